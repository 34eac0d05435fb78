/* encoderscope explorer: plain JavaScript over the page's JSON block (no network, no build step).
 * Views: "maps" (label grids drawn on canvases over thumbnails), "flow" (figure + transition tables) and
 * "dissect" (searchable unit table). Thumbnails are decoded only when their tile scrolls into view. */
(function () {
  "use strict";
  var started = performance.now();
  var data = JSON.parse(document.getElementById("es-data").textContent);
  var GALLERY = 12;
  var NO_LABEL = 255;
  var rgb = data.palette.map(function (hex) {
    return [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)];
  });
  var tip = document.getElementById("es-tip");
  var main = document.getElementById("es-main");
  var stats = { pending: 0, drawn: 0, readyAt: null, firstPaintAt: null };
  window.esExplorer = { data: data, stats: stats };
  // the labels a map shows, per thumbnail pixel (row-major; 255 = none): what the tests compare with label_map()
  window.esExplorer.labels = function (view, result, row) {
    var item = data.views[view].results[result].items[row], meta = data.images[data.views[view].images[row]];
    var cells = lookup(item, meta.w, meta.h), labels = grid(item);
    return Array.prototype.map.call(cells, function (cell) { return labels[cell]; });
  };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else if (name === "className") node.className = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  // ---- pictures and grids, decoded on demand ----------------------------------------------------------------
  var decoded = new Map();
  function picture(index) {
    if (!decoded.has(index)) {
      var src = data.images[index].src;
      decoded.set(index, !src ? Promise.resolve(null) : new Promise(function (resolve) {
        var image = new Image();
        image.onload = function () { resolve(image); };
        image.onerror = function () { resolve(null); };
        image.src = "data:image/jpeg;base64," + src;
      }));
    }
    return decoded.get(index);
  }
  var grids = new WeakMap();
  function grid(item) {
    if (!grids.has(item)) {
      var raw = atob(item[8]);
      var cells = new Uint8Array(raw.length);
      for (var i = 0; i < raw.length; i++) cells[i] = raw.charCodeAt(i);
      grids.set(item, cells);
    }
    return grids.get(item);
  }
  // thumbnail pixel -> grid cell (or -1), as grid_to_image: original -> content -> padded grid, nearest
  var lookups = new WeakMap();
  function lookup(item, width, height) {
    var cached = lookups.get(item);
    if (cached && cached.width === width && cached.height === height) return cached.cells;
    var gh = item[0], gw = item[1], ph = item[2], pw = item[3], ch = item[4], cw = item[5], oh = item[6], ow = item[7];
    var rows = new Int32Array(height), cols = new Int32Array(width);
    for (var y = 0; y < height; y++) {
      var oy = Math.floor(y * oh / height);
      rows[y] = Math.floor(Math.floor(oy * ch / oh) * gh / ph);
    }
    for (var x = 0; x < width; x++) {
      var ox = Math.floor(x * ow / width);
      cols[x] = Math.floor(Math.floor(ox * cw / ow) * gw / pw);
    }
    var cells = new Int32Array(width * height);
    for (y = 0; y < height; y++) for (x = 0; x < width; x++) cells[y * width + x] = rows[y] * gw + cols[x];
    lookups.set(item, { width: width, height: height, cells: cells });
    return cells;
  }
  function mapping(result, row) { return result.map || (result.maps && result.maps[row]) || null; }
  function slotOf(result, row, label) {
    var m = mapping(result, row);
    return m && label < m.length ? m[label] : label;
  }
  function conceptName(result, row, label) {
    if (result.names) return result.names[label] || "";
    if (result.inames && result.inames[row]) return result.inames[row][label] || "";
    return "";
  }

  // ---- drawing ------------------------------------------------------------------------------------------------
  function draw(canvas) {
    var info = canvas._es, state = info.state, result = info.view.results[info.result];
    var item = result.items[info.row];
    var selected = state.slot;
    var ticket = (canvas._ticket || 0) + 1;
    canvas._ticket = ticket;
    canvas._drawn = selected;
    stats.pending += 1;
    return picture(info.view.images[info.row]).then(function (image) {
      stats.pending -= 1;
      if (canvas._ticket !== ticket) return;
      var ctx = canvas.getContext("2d", { willReadFrequently: true });
      var width = canvas.width, height = canvas.height;
      if (image) ctx.drawImage(image, 0, 0, width, height);
      else { ctx.fillStyle = "#bdbdbd"; ctx.fillRect(0, 0, width, height); }
      if (item) paint(ctx, width, height, result, item, info.row, selected);
      stats.drawn += 1;
      if (stats.readyAt !== null && stats.firstPaintAt === null && stats.pending === 0) {
        stats.firstPaintAt = performance.now();
        document.body.setAttribute("data-painted", "1");
      }
    });
  }
  function paint(ctx, width, height, result, item, row, selected) {
    var cells = lookup(item, width, height), labels = grid(item), map = mapping(result, row);
    var frame = ctx.getImageData(0, 0, width, height), px = frame.data;
    var slots = new Int32Array(width * height);
    for (var p = 0; p < cells.length; p++) {
      var label = labels[cells[p]];
      slots[p] = label === NO_LABEL || label === undefined ? -1 : (map && label < map.length ? map[label] : label);
    }
    for (p = 0; p < slots.length; p++) {
      var slot = slots[p], o = p * 4;
      if (slot < 0) continue;
      var colour = rgb[slot % rgb.length];
      var right = p % width < width - 1 ? slots[p + 1] : slot, below = p + width < slots.length ? slots[p + width] : slot;
      var edge = (right !== slot || below !== slot) && (selected === null || selected === undefined ||
        slot === selected || right === selected || below === selected);
      if (selected === null || selected === undefined) {
        for (var c = 0; c < 3; c++) px[o + c] = 0.55 * px[o + c] + 0.45 * colour[c];
      } else if (slot === selected) {
        for (c = 0; c < 3; c++) px[o + c] = 0.35 * px[o + c] + 0.65 * colour[c];
      } else {
        for (c = 0; c < 3; c++) px[o + c] = 0.3 * px[o + c] + 20;
      }
      if (edge) for (c = 0; c < 3; c++) px[o + c] *= 0.45;
    }
    ctx.putImageData(frame, 0, 0);
  }
  var observer = new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      var canvas = entry.target;
      canvas._visible = entry.isIntersecting;
      if (entry.isIntersecting && canvas._drawn !== canvas._es.state.slot) draw(canvas);
    });
  }, { rootMargin: "300px" });
  function mapCanvas(view, state, result, row, list) {
    var meta = data.images[view.images[row]];
    var scale = data.thumb / Math.max(meta.w, meta.h);
    var canvas = el("canvas", { width: meta.w, height: meta.h, className: "es-map", "data-result": result,
      "data-row": row, style: "width:" + Math.round(meta.w * scale) + "px;height:" + Math.round(meta.h * scale) + "px" });
    canvas._es = { view: view, state: state, result: result, row: row };
    canvas._drawn = "never";
    canvas.addEventListener("mousemove", hover);
    canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
    observer.observe(canvas);
    list.push(canvas);
    return canvas;
  }
  function forget(list) {
    list.forEach(function (canvas) { observer.unobserve(canvas); });
    list.length = 0;
  }
  function redraw(state) {
    state.canvases.forEach(function (canvas) {
      if (canvas._visible && canvas.isConnected) draw(canvas);
    });
  }
  function hover(event) {
    var canvas = event.currentTarget, info = canvas._es, result = info.view.results[info.result];
    var item = result.items[info.row];
    if (!item) { tip.hidden = true; return; }
    var x = Math.min(canvas.width - 1, Math.floor(event.offsetX * canvas.width / canvas.clientWidth));
    var y = Math.min(canvas.height - 1, Math.floor(event.offsetY * canvas.height / canvas.clientHeight));
    var label = grid(item)[lookup(item, canvas.width, canvas.height)[y * canvas.width + x]];
    if (label === NO_LABEL || label === undefined) { tip.hidden = true; return; }
    var slot = slotOf(result, info.row, label), name = conceptName(result, info.row, label);
    tip.textContent = result.name + ": concept " + label + (name ? " · " + name : "") +
      (slot !== label ? " (colour " + slot + ")" : "");
    tip.style.left = (event.clientX + 14) + "px";
    tip.style.top = (event.clientY + 14) + "px";
    tip.hidden = false;
    tip.setAttribute("data-slot", slot);
  }

  // ---- concept-map views ----------------------------------------------------------------------------------------
  function shownResults(view, state) {
    var models = state.model === "all" ? view.models.map(function (_, m) { return m; }) : [state.model];
    return models.map(function (m) { return state.layer[m]; });
  }
  function inverse(result, slot) {
    if (!result.map) return slot < result.k ? slot : -1;
    return result.map.indexOf(slot);
  }
  function legendLabel(view, result, slot) {
    var concept = inverse(result, slot);
    if (result.scope !== "dataset") return "concept " + slot;
    if (concept < 0) return "colour " + slot + " (not in " + result.model + ")";
    return result.names && result.names[concept] ? concept + ": " + result.names[concept] : "concept " + concept;
  }
  function galleryTitle(result, slot) {
    var concept = inverse(result, slot);
    if (result.scope !== "dataset") return "concept " + slot;
    if (concept < 0) return "colour " + slot;
    return "concept " + concept + (result.names && result.names[concept] ? " (" + result.names[concept] + ")" : "");
  }
  function legend(view, state, box) {
    box.textContent = "";
    var result = view.results[shownResults(view, state)[0]];
    for (var s = 0; s < view.slots; s++) {
      var concept = inverse(result, s);
      var words = result.words && concept >= 0 && result.words[concept].length ? result.words[concept] : null;
      var button = el("button", { className: "es-concept" + (state.slot === s ? " es-active" : ""), "data-slot": s,
        title: words ? words.map(function (w) { return w[0] + " " + w[1]; }).join(", ") : "click: highlight" }, [
        el("span", { className: "es-swatch", style: "background:" + data.palette[s % data.palette.length] }),
        el("span", { text: legendLabel(view, result, s) })]);
      button.addEventListener("click", select.bind(null, view, state, s));
      box.appendChild(button);
    }
  }
  function select(view, state, slot) {
    state.slot = state.slot === slot ? null : slot;
    state.root.setAttribute("data-selected", state.slot === null ? "" : state.slot);
    Array.prototype.forEach.call(state.root.querySelectorAll(".es-concept"), function (button) {
      button.classList.toggle("es-active", Number(button.getAttribute("data-slot")) === state.slot);
    });
    gallery(view, state);
    redraw(state);
  }
  function coverage(result, row, slot) {
    var item = result.items[row];
    if (!item) return 0;
    var labels = grid(item), gh = item[0], gw = item[1];
    var rows = Math.ceil(item[4] * gh / item[2]), cols = Math.ceil(item[5] * gw / item[3]);
    var hit = 0, total = 0;
    for (var r = 0; r < rows; r++) for (var c = 0; c < cols; c++) {
      var label = labels[r * gw + c];
      if (label === NO_LABEL) continue;
      total += 1;
      if (slotOf(result, row, label) === slot) hit += 1;
    }
    return total ? hit / total : 0;
  }
  function gallery(view, state) {
    var box = state.gallery;
    forget(state.galleryCanvases);
    box.textContent = "";
    box.hidden = state.slot === null;
    if (state.slot === null) return;
    var index = shownResults(view, state)[0], result = view.results[index], slot = state.slot;
    var concept = inverse(result, slot), entries;
    if (result.scope === "dataset" && concept >= 0 && result.gallery[String(concept)]) {
      entries = result.gallery[String(concept)];
    } else {
      entries = view.images.map(function (_, row) { return [row, coverage(result, row, slot)]; })
        .filter(function (e) { return e[1] > 0; }).sort(function (a, b) { return b[1] - a[1]; });
    }
    entries = entries.slice(0, GALLERY);
    box.appendChild(el("h3", { text: "Where " + galleryTitle(result, slot) + " is most present · " +
      result.name + (entries.length ? "" : ": no image") }));
    var words = result.words && concept >= 0 ? result.words[concept] : null;
    if (words && words.length) box.appendChild(el("p", { className: "es-words", text: "words: " + words.map(function (w) {
      return w[0] + " " + w[1];
    }).join(", ") }));
    var tiles = el("div", { className: "es-tiles" });
    entries.forEach(function (entry) {
      var row = entry[0], canvas = mapCanvas(view, state, index, row, state.galleryCanvases);
      var map = mapping(result, row), label = map ? map.indexOf(slot) : slot;
      var name = result.inames && label >= 0 ? conceptName(result, row, label) : "";
      tiles.appendChild(el("figure", { className: "es-gtile" }, [canvas, el("figcaption", {
        text: data.images[view.images[row]].key + " · " + Math.round(entry[1] * 100) + " %" + (name ? " · " + name : "")
      })]));
    });
    box.appendChild(tiles);
  }
  function layerSelect(view, state, m) {
    var sets = view.models[m].sets;
    var label = el("label", { className: "es-column" }, [el("strong", { text: view.models[m].name })]);
    if (sets.length < 2) {
      if (view.results[sets[0]].layers) label.appendChild(el("span", { text: " · " + view.results[sets[0]].layers }));
      return label;
    }
    var chooser = el("select", { className: "es-layer", "data-model": m, "aria-label": "layer set" });
    sets.forEach(function (r) {
      var option = el("option", { value: r, text: view.results[r].layers });
      if (state.layer[m] === r) option.selected = true;
      chooser.appendChild(option);
    });
    chooser.addEventListener("change", function () { state.layer[m] = Number(chooser.value); rebuild(view, state); });
    label.appendChild(chooser);
    return label;
  }
  function rebuild(view, state) {
    forget(state.canvases);
    var models = state.model === "all" ? view.models.map(function (_, m) { return m; }) : [state.model];
    state.columns.textContent = "";
    models.forEach(function (m) { state.columns.appendChild(layerSelect(view, state, m)); });
    legend(view, state, state.legend);
    var shown = shownResults(view, state);
    var tiles = el("div", { className: "es-tiles" });
    view.images.forEach(function (image, row) {
      var maps = el("div", { className: "es-maps" }, shown.map(function (r) { return mapCanvas(view, state, r, row, state.canvases); }));
      tiles.appendChild(el("figure", { className: "es-tile", "data-row": row }, [maps,
        el("figcaption", { text: data.images[image].key })]));
    });
    state.grid.textContent = "";
    state.grid.appendChild(tiles);
    gallery(view, state);
  }
  function table(spec) {
    var head = el("tr", {}, spec.header.map(function (h) { return el("th", { text: h }); }));
    var rows = spec.rows.map(function (row) {
      return el("tr", {}, row.map(function (v) { return el("td", { text: String(v) }); }));
    });
    return el("table", { className: "es-table" }, [el("caption", { text: spec.caption || "" }), el("thead", {}, [head]),
      el("tbody", {}, rows)]);
  }
  function buildMaps(view, root) {
    var state = { slot: null, model: view.models.length > 1 ? "all" : 0, layer: {}, canvases: [], galleryCanvases: [],
      root: root };
    view.models.forEach(function (model, m) { state.layer[m] = model.sets[0]; });
    var bar = el("div", { className: "es-toolbar" });
    if (view.models.length > 1) {
      var chooser = el("select", { className: "es-model", "aria-label": "model" },
        [el("option", { value: "all", text: "all models side by side" })].concat(view.models.map(function (model, m) {
          return el("option", { value: m, text: model.name });
        })));
      chooser.addEventListener("change", function () {
        state.model = chooser.value === "all" ? "all" : Number(chooser.value);
        rebuild(view, state);
      });
      bar.appendChild(el("label", { text: "Model " }, [chooser]));
    }
    state.columns = el("div", { className: "es-columns" });
    bar.appendChild(state.columns);
    state.legend = el("div", { className: "es-legend" });
    state.gallery = el("section", { className: "es-gallery", hidden: "" });
    state.grid = el("section", { className: "es-grid" });
    root.appendChild(bar);
    root.appendChild(state.legend);
    root.appendChild(el("p", { className: "es-hint", text: view.images.length + " images · click a concept to " +
      "highlight it in every map and list the images it covers most; hover a map for its concept" }));
    root.appendChild(state.gallery);
    (view.tables || []).forEach(function (spec) {
      root.appendChild(el("details", { className: "es-details" }, [el("summary", { text: spec.caption }), table(spec)]));
    });
    root.appendChild(state.grid);
    rebuild(view, state);
  }

  // ---- flow and dissection views ------------------------------------------------------------------------------
  function buildFlow(view, root) {
    root.appendChild(el("img", { className: "es-flow", alt: "concept flow", src: "data:image/png;base64," + view.png }));
    var header = Object.keys(view.summary[0] || {});
    root.appendChild(table({ caption: "Per depth step", header: header, rows: view.summary.map(function (row) {
      return header.map(function (h) { return row[h]; });
    }) }));
    view.steps.forEach(function (step, n) {
      var names = view.names;
      var head = el("tr", {}, [el("th", { text: step.from + " \u2192 " + step.to })].concat(
        step.forward[0].map(function (_, j) { return el("th", { text: names ? j + ": " + names[n + 1][j] : "c" + j }); })));
      var rows = step.forward.map(function (row, i) {
        return el("tr", {}, [el("th", { text: names ? i + ": " + names[n][i] : "c" + i })].concat(row.map(function (v, j) {
          return el("td", { text: Math.round(v * 100) + " %", title: step.counts[i][j] + " positions",
            style: "background:rgba(0,114,178," + (0.85 * v).toFixed(3) + ")" + (v > 0.5 ? ";color:#fff" : "") });
        })));
      });
      root.appendChild(el("table", { className: "es-table es-matrix", "data-step": n }, [
        el("caption", { text: "Share of each concept of " + step.from + " (rows) that lands in each concept of " +
          step.to + " (columns)" }), el("thead", {}, [head]), el("tbody", {}, rows)]));
    });
  }
  var lazyImages = new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting) return;
      var image = entry.target, meta = data.images[Number(image.getAttribute("data-image"))];
      if (meta.src) image.src = "data:image/jpeg;base64," + meta.src;
      lazyImages.unobserve(image);
    });
  }, { rootMargin: "300px" });
  function buildDissection(view, root) {
    var search = el("input", { type: "search", className: "es-search", placeholder: "search a unit or a concept",
      "aria-label": "search units" });
    var count = el("span", { className: "es-count" });
    root.appendChild(el("div", { className: "es-toolbar" }, [search, count, el("span", { className: "es-hint",
      text: view.similarity + " · scorer " + view.scorer })]));
    var rows = view.units.map(function (unit) {
      var images = unit[4].map(function (index, n) {
        var meta = data.images[index];
        var image = el("img", { className: "es-unit-image", width: meta.w, height: meta.h, alt: meta.key,
          title: meta.key + " · activation " + unit[5][n], "data-image": index });
        lazyImages.observe(image);
        return image;
      });
      var text = String(unit[1]).toLowerCase();
      var tr = el("tr", { "data-unit": unit[0] }, [el("td", { text: unit[0] }), el("td", { text: unit[1] }),
        el("td", { text: unit[2] }), el("td", { className: "es-alt", text: unit[3].map(function (a) {
          return a[0] + " " + a[1];
        }).join(", ") }), el("td", {}, images)]);
      tr._text = text;
      tr._unit = String(unit[0]);
      return tr;
    });
    var body = el("tbody", {}, rows);
    root.appendChild(el("table", { className: "es-table es-units" }, [el("thead", {}, [el("tr", {}, [
      "unit", "concept", "similarity", "next concepts", "top images"].map(function (h) {
      return el("th", { text: h });
    }))]), body]));
    function filter() {
      var query = search.value.trim().toLowerCase(), shown = 0;
      rows.forEach(function (tr) {
        var hit = !query || tr._unit === query || tr._text.indexOf(query) >= 0;
        tr.hidden = !hit;
        if (hit) shown += 1;
      });
      count.textContent = shown + " of " + rows.length + " units";
    }
    search.addEventListener("input", filter);
    filter();
  }

  // ---- tabs ---------------------------------------------------------------------------------------------------
  var builders = { maps: buildMaps, flow: buildFlow, dissect: buildDissection };
  var sections = [];
  var tabs = document.getElementById("es-tabs");
  function show(index) {
    sections.forEach(function (section, n) { section.hidden = n !== index; });
    Array.prototype.forEach.call(tabs.children, function (button, n) {
      button.classList.toggle("es-active", n === index);
    });
    var section = sections[index];
    if (!section._built) {
      section._built = true;
      builders[data.views[index].kind](data.views[index], section);
    }
  }
  data.views.forEach(function (view, n) {
    var button = el("button", { className: "es-tab", "data-view": n, text: view.title });
    button.addEventListener("click", show.bind(null, n));
    tabs.appendChild(button);
    var section = el("section", { className: "es-view es-view-" + view.kind, "data-view": n, hidden: "" });
    sections.push(section);
    main.appendChild(section);
  });
  (data.notes || []).forEach(function (note) { main.insertBefore(el("p", { className: "es-note", text: note }), main.firstChild); });
  if (sections.length) show(0);
  stats.readyAt = performance.now();
  stats.scriptMs = stats.readyAt - started;
  document.body.setAttribute("data-ready", "1");
  if (!sections.length || data.views[0].kind !== "maps" || !data.views[0].images.length) {
    requestAnimationFrame(function () {
      stats.firstPaintAt = performance.now();
      document.body.setAttribute("data-painted", "1");
    });
  }
})();
