"""A seeded benchmark of annotated scenes: real object cut-outs with exact masks on natural backgrounds.

No annotated natural-image dataset installs here, so this module builds one. Each scene is a random crop of a zoo
photo or texture (224-448 px a side) with 1-3 objects pasted on it, each with its own exact mask:

- ``fashion``: a Fashion-MNIST item (t10k split), up-scaled and tinted; mask from its non-zero pixels (holes
  filled, specks removed);
  class = the item's class (``sneaker``, ``bag``, ...);
- ``horse``: scikit-image's horse silhouette filled with a crop of another photo or texture;
- ``shape``: a random star or ellipse filled the same way;
- ``face``: a DCGAN face (``gan-face-generate``) with an elliptical face mask.

Later objects may hide at most ``max_occlusion`` of earlier ones; boxes are the tight boxes of the visible masks.
:func:`write_scenes` writes a PASCAL VOC folder (``JPEGImages``, ``Annotations``, ``SegmentationObject``,
``ImageSets/Main/all.txt``), so the same evaluator reads the user's own VOC data. The same seed gives
byte-identical files; scene ``i`` depends only on ``(seed, i)``.

Example:
    >>> scene = next(generate_scenes(1, seed=0, config=SceneConfig(kinds=("horse", "shape"))))
    >>> scene.image.mode, scene.object_map.shape == (scene.image.height, scene.image.width)
    ('RGB', True)
    >>> 1 <= len(scene.objects) <= 3
    True
"""

from __future__ import annotations

import pickle  # only for its exception type: torch.load runs with weights_only=True
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from encoderscope._io import write_text
from encoderscope._progress import progress_bar, warn
from encoderscope.configs import HELP_SEED, Config, option
from encoderscope.data.images import load_image
from encoderscope.data.voc import VocAnnotation, VocObject, write_image_set, write_voc_sample
from encoderscope.data.zoo_images import FASHION_MNIST_CLASSES, PHOTOS, TEXTURES, fashion_mnist
from encoderscope.errors import ParameterError, SourceError
from encoderscope.lazy import drawn_by
from encoderscope.runs import RunRecord, python_call

OBJECT_KINDS = ("fashion", "horse", "shape", "face")
FASHION_NAMES = tuple(name.lower().replace("t-shirt/top", "tshirt").replace(" ", "-") for name in FASHION_MNIST_CLASSES)
"""VOC class names of the Fashion-MNIST items: tshirt, trouser, pullover, dress, coat, sandal, shirt, sneaker,
bag, ankle-boot."""
_FACE_BANK = 32
_FACE_SEED = 1234


@dataclass(frozen=True)
class SceneConfig(Config):
    """How scenes are drawn. Sides are drawn independently in ``[min_side, max_side]``; an object's longer side
    is ``[min_scale, max_scale]`` x the shorter image side. Checked when made."""

    min_side: int = option(224, help="Smallest image side in pixels.")
    max_side: int = option(448, help="Largest image side in pixels.")
    min_objects: int = option(1, help="At least this many objects per scene.")
    max_objects: int = option(3, help="At most this many objects per scene (at least 1).")
    min_scale: float = option(0.25, help="Smallest object side, as a fraction of the shorter image side.")
    max_scale: float = option(0.6, help="Largest object side, as a fraction of the shorter image side.")
    kinds: tuple[str, ...] = option(
        OBJECT_KINDS, sep=",", help="Object kinds, comma-separated: fashion, horse, shape, face (default: all)."
    )
    backgrounds: tuple[str, ...] = option(
        ("photos", "textures"), sep=",", help="Backgrounds, comma-separated: photos, textures."
    )
    max_occlusion: float = option(0.3, help="Later objects hide at most this fraction of earlier ones.")
    jpeg_quality: int = option(95, help="JPEG quality of the written images.")

    def check(self) -> None:
        """Raise ``ParameterError`` for impossible settings."""
        if not 32 <= self.min_side <= self.max_side:
            raise ParameterError(f"need 32 <= min_side <= max_side, got {self.min_side}, {self.max_side}")
        if not 1 <= self.min_objects <= self.max_objects:
            raise ParameterError(f"need 1 <= min_objects <= max_objects, got {self.min_objects}, {self.max_objects}")
        if not 0 < self.min_scale <= self.max_scale <= 1:
            raise ParameterError(f"need 0 < min_scale <= max_scale <= 1, got {self.min_scale}, {self.max_scale}")
        unknown = set(self.kinds) - set(OBJECT_KINDS)
        if unknown or not self.kinds:
            raise ParameterError(f"object kinds must be among {', '.join(OBJECT_KINDS)}, got {list(self.kinds)}")
        bad = set(self.backgrounds) - {"photos", "textures"}
        if bad or not self.backgrounds:
            raise ParameterError(f"backgrounds must be among photos, textures; got {list(self.backgrounds)}")
        if not 0 <= self.max_occlusion < 1:
            raise ParameterError(f"max_occlusion must be in [0, 1), got {self.max_occlusion}")


@dataclass(frozen=True)
class SceneObject:
    """One pasted object: class ``name``, ``kind``, tight ``box`` (xmin, ymin, xmax, ymax; 0-based inclusive
    pixel indices of its visible mask) and visible ``area`` in pixels."""

    name: str
    kind: str
    box: tuple[int, int, int, int]
    area: int


@dataclass
class Scene:
    """A generated scene: RGB ``image``, ``object_map`` (H, W) uint8 with 0 = background and i = ``objects[i-1]``."""

    image_id: str
    image: Image.Image
    object_map: np.ndarray
    objects: list[SceneObject]
    background: str

    def masks(self) -> list[np.ndarray]:
        """Boolean (H, W) visible mask per object."""
        return [self.object_map == i + 1 for i in range(len(self.objects))]

    def boxes(self) -> np.ndarray:
        """(N, 4) boxes in the CorLoc (LOST) convention: ``[xmin, ymin, xmax + 1, ymax + 1]``, 0-based."""
        return np.array([[o.box[0], o.box[1], o.box[2] + 1, o.box[3] + 1] for o in self.objects], dtype=np.float64)

    def annotation(self) -> VocAnnotation:
        """The VOC annotation (1-based inclusive boxes, as in PASCAL VOC XML)."""
        objects = tuple(VocObject(o.name, tuple(float(v + 1) for v in o.box)) for o in self.objects)  # type: ignore[misc]
        return VocAnnotation(self.image_id, f"{self.image_id}.jpg", self.image.width, self.image.height, objects)


class SceneGenerator:
    """Draws scenes from the installed sources. ``scene(i)`` is a pure function of ``(seed, i)``.

    Sources missing here (Fashion-MNIST, the DCGAN package, the darknet photos) are left out with one warning
    each; the kinds actually used are in :attr:`kinds`.
    """

    def __init__(self, seed: int = 0, config: SceneConfig | None = None, warn_missing: bool = True) -> None:
        self.seed = int(seed)
        self.config = config or SceneConfig()
        self.config.check()
        self._warn = warn_missing
        self.missing: list[str] = []
        self.kinds = tuple(k for k in self.config.kinds if self._available(k))
        if not self.kinds:
            raise SourceError(f"no object source is available for kinds {list(self.config.kinds)}: {self.missing}")

    def _note_missing(self, message: str) -> None:
        self.missing.append(message)
        if self._warn:
            warn(message)

    def _available(self, kind: str) -> bool:
        try:
            if kind == "fashion":
                _ = self._fashion
            elif kind == "face":
                _ = self._faces
        except SourceError as err:
            self._note_missing(f"scenes: no {kind} objects ({err})")
            return False
        return True

    @property
    def _library(self) -> tuple[tuple[str, np.ndarray], ...]:
        return zoo_library()

    @cached_property
    def _backgrounds(self) -> list[tuple[str, np.ndarray]]:
        """The library entries of the configured background groups."""
        groups = tuple(f"{g}/" for g in self.config.backgrounds)
        found = [entry for entry in self._library if entry[0].startswith(groups)]
        if not found:
            raise SourceError("no zoo photo or texture found for the scene backgrounds (is scikit-image installed?)")
        return found

    @cached_property
    def _fashion(self) -> tuple[np.ndarray, np.ndarray]:
        return fashion_mnist("t10k")

    @cached_property
    def _horse(self) -> np.ndarray:
        from skimage.data import horse

        mask = ~np.asarray(horse(), dtype=bool)  # the file stores the horse as False
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    @cached_property
    def _faces(self) -> np.ndarray:
        return face_bank()

    # -- drawing ------------------------------------------------------------------------------------------------

    def scene(self, index: int) -> Scene:
        """The ``index``-th scene of this seed."""
        cfg = self.config
        rng = np.random.default_rng([self.seed, int(index)])
        width = int(rng.integers(cfg.min_side, cfg.max_side + 1))
        height = int(rng.integers(cfg.min_side, cfg.max_side + 1))
        background_key, canvas = self._background(rng, width, height)
        object_map = np.zeros((height, width), dtype=np.uint8)
        placed: list[tuple[str, str, int]] = []  # (name, kind, full area)
        n_objects = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
        for _ in range(n_objects):
            kind = self.kinds[int(rng.integers(len(self.kinds)))]
            side = round(rng.uniform(cfg.min_scale, cfg.max_scale) * min(width, height))
            name, pixels, mask = self._object(rng, kind, max(side, 8))
            spot = self._place(rng, object_map, mask, len(placed))
            if spot is None:
                continue
            y, x = spot
            h, w = mask.shape
            region = canvas[y : y + h, x : x + w]
            region[mask] = pixels[mask]
            object_map[y : y + h, x : x + w][mask] = len(placed) + 1
            placed.append((name, kind, int(mask.sum())))
        objects = []
        keep = np.zeros(len(placed) + 1, dtype=np.uint8)
        for i, (name, kind, _area) in enumerate(placed, start=1):
            visible = object_map == i
            if not visible.any():
                continue
            objects.append(SceneObject(name, kind, _tight_box(visible), int(visible.sum())))
            keep[i] = len(objects)
        object_map = keep[object_map]
        image = Image.fromarray(canvas)
        return Scene(f"{int(index):06d}", image, object_map, objects, background_key)

    def _background(self, rng: np.random.Generator, width: int, height: int) -> tuple[str, np.ndarray]:
        key, source = self._backgrounds[int(rng.integers(len(self._backgrounds)))]
        crop = _random_crop(rng, source, width / height, float(rng.uniform(0.4, 1.0)))
        image = Image.fromarray(crop).resize((width, height), Image.Resampling.BILINEAR)
        if rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        array = np.array(image)
        if key.startswith("textures/") or _is_gray(array):
            array = _tint(array, _random_tint(rng, 0.45))
        return key, array

    def _object(self, rng: np.random.Generator, kind: str, side: int) -> tuple[str, np.ndarray, np.ndarray]:
        """(class name, RGB pixels (h, w, 3), mask (h, w)) of a new object whose longer side is ``side``."""
        if kind == "fashion":
            images, labels = self._fashion
            index = int(rng.integers(len(labels)))
            gray = Image.fromarray(np.asarray(images[index]))
            pixels = np.asarray(gray.resize((side, side), Image.Resampling.BICUBIC), dtype=np.float64)
            coverage = Image.fromarray(item_mask(np.asarray(images[index])).astype(np.uint8) * 255)
            mask = np.asarray(coverage.resize((side, side), Image.Resampling.BILINEAR)) >= 128
            tinted = _tint(np.repeat(pixels[:, :, None], 3, axis=2), _random_tint(rng, 0.35), floor=0.25)
            return FASHION_NAMES[int(labels[index])], tinted, mask
        if kind == "face":
            faces = self._faces
            face = Image.fromarray(faces[int(rng.integers(len(faces)))])
            pixels = np.asarray(face.resize((side, side), Image.Resampling.BICUBIC))
            return "face", pixels, _ellipse_mask(side, side, 0.31, 0.42, (0.5, 0.53))
        if kind == "horse":
            base = self._horse
            scale = side / max(base.shape)
            h, w = max(4, round(base.shape[0] * scale)), max(4, round(base.shape[1] * scale))
            mask = np.asarray(Image.fromarray(base.astype(np.uint8) * 255).resize((w, h), Image.Resampling.BILINEAR))
            mask = mask >= 128
            if rng.random() < 0.5:
                mask = mask[:, ::-1]
            return "horse", self._fill(rng, h, w), mask
        mask = _shape_mask(rng, side)
        return "shape", self._fill(rng, *mask.shape), mask

    def _fill(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        _, source = self._library[int(rng.integers(len(self._library)))]
        crop = _random_crop(rng, source, w / h, float(rng.uniform(0.2, 0.6)))
        pixels = np.array(Image.fromarray(crop).resize((w, h), Image.Resampling.BILINEAR))
        return _tint(pixels, _random_tint(rng, 0.5)) if _is_gray(pixels) else pixels

    def _place(
        self, rng: np.random.Generator, object_map: np.ndarray, mask: np.ndarray, n_placed: int
    ) -> tuple[int, int] | None:
        """A top-left corner where the object fits inside the image without hiding too much of earlier ones."""
        height, width = object_map.shape
        h, w = mask.shape
        if h > height or w > width:
            return None
        areas = np.bincount(object_map.ravel(), minlength=n_placed + 1)
        for _ in range(30):
            y = int(rng.integers(0, height - h + 1))
            x = int(rng.integers(0, width - w + 1))
            hidden = np.bincount(object_map[y : y + h, x : x + w][mask], minlength=n_placed + 1)
            remaining = areas[1:] - hidden[1:]
            if np.all(remaining >= (1 - self.config.max_occlusion) * areas[1:]):
                return y, x
        return None


@lru_cache(maxsize=1)
def zoo_library() -> tuple[tuple[str, np.ndarray], ...]:
    """(key, read-only RGB uint8 array) of every zoo photo and texture found here, in the zoo's stable order."""
    found = []
    for group, photos in (("photos", PHOTOS), ("textures", TEXTURES)):
        for photo in photos:
            path = photo.locate()
            if path is not None:
                array = np.asarray(load_image(path))
                array.setflags(write=False)
                found.append((f"{group}/{photo.name}", array))
    return tuple(found)


def item_mask(gray: np.ndarray, min_pixels: int = 8) -> np.ndarray:
    """The object mask of a dark-background item (Fashion-MNIST): its non-zero pixels with enclosed holes filled
    and specks smaller than ``min_pixels`` (8-connected) removed.

    Example:
        >>> item = np.zeros((8, 8), dtype=np.uint8); item[2:6, 2:6] = 9; item[3:5, 3:5] = 0; item[0, 7] = 3
        >>> int(item_mask(item, min_pixels=2).sum())  # the 4 x 4 item with its hole filled, without the speck
        16
    """
    from scipy import ndimage

    mask = ndimage.binary_fill_holes(np.asarray(gray) > 0)
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min(min_pixels, int(sizes[1:].max()))
    keep[0] = False
    return keep[labels]


def _tight_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def _is_gray(array: np.ndarray) -> bool:
    return bool(np.array_equal(array[:, :, 0], array[:, :, 1]) and np.array_equal(array[:, :, 1], array[:, :, 2]))


def _random_tint(rng: np.random.Generator, low: float) -> np.ndarray:
    return rng.uniform(low, 1.0, size=3)


def _tint(array: np.ndarray, tint: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """Colour a gray (or any) RGB array by per-channel factors; ``floor`` lifts the darkest values."""
    values = np.asarray(array, dtype=np.float64) / 255.0
    values = floor + (1 - floor) * values
    return np.clip(np.rint(values * tint * 255.0), 0, 255).astype(np.uint8)


def _random_crop(rng: np.random.Generator, source: np.ndarray, aspect: float, fraction: float) -> np.ndarray:
    """A crop of ``source`` with the given width/height ``aspect``, as large as ``fraction`` of what fits."""
    height, width = source.shape[:2]
    crop_w = min(width, height * aspect)
    crop_h = crop_w / aspect
    crop_w, crop_h = max(8, int(crop_w * fraction)), max(8, int(crop_h * fraction))
    crop_w, crop_h = min(crop_w, width), min(crop_h, height)
    y = int(rng.integers(0, height - crop_h + 1))
    x = int(rng.integers(0, width - crop_w + 1))
    return np.ascontiguousarray(source[y : y + crop_h, x : x + crop_w])


def _ellipse_mask(h: int, w: int, rx: float, ry: float, center: tuple[float, float]) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy = center[0] * w, center[1] * h
    return ((xx + 0.5 - cx) / (rx * w)) ** 2 + ((yy + 0.5 - cy) / (ry * h)) ** 2 <= 1.0


def _shape_mask(rng: np.random.Generator, side: int) -> np.ndarray:
    """A random star (5-8 points) or ellipse whose longer side is ``side``."""
    if rng.random() < 0.5:
        aspect = float(rng.uniform(0.5, 1.0))
        h, w = (side, max(8, round(side * aspect))) if rng.random() < 0.5 else (max(8, round(side * aspect)), side)
        return _ellipse_mask(h, w, 0.5, 0.5, (0.5, 0.5))
    points = int(rng.integers(5, 9))
    inner = float(rng.uniform(0.4, 0.6))
    phase = float(rng.uniform(0, 2 * np.pi))
    angles = phase + np.arange(2 * points) * np.pi / points
    radii = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner) * (side / 2 - 0.5)
    polygon = [(side / 2 + r * np.cos(a), side / 2 + r * np.sin(a)) for r, a in zip(radii, angles, strict=True)]
    canvas = Image.new("L", (side, side), 0)
    ImageDraw.Draw(canvas).polygon(polygon, fill=255)
    mask = np.asarray(canvas) > 0
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def face_bank(n: int = _FACE_BANK, seed: int = _FACE_SEED) -> np.ndarray:
    """``n`` DCGAN faces (``gan-face-generate``, 64 x 64 RGB uint8) drawn from a fixed seed on one CPU thread."""
    import torch

    from encoderscope.errors import WeightsUnavailableError
    from encoderscope.zoo import locate

    try:
        weights = locate.package_file("gan_face_generate", "weights.tar", pip_name="gan-face-generate", no_deps=True)
    except WeightsUnavailableError as err:
        raise SourceError(str(err)) from None
    try:
        from gan_face_generate.models import Generator

        state = torch.load(weights, map_location="cpu", weights_only=True)
        generator = Generator(0, 3, 100, 64)
        generator.load_state_dict(state["netG_state_dict"])
    except (ImportError, RuntimeError, KeyError, TypeError, ValueError, OSError, pickle.UnpicklingError) as err:
        raise SourceError(f"cannot load the DCGAN face generator from {weights}: {type(err).__name__} {err}") from None
    generator.eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        z = torch.randn(n, 100, 1, 1, generator=torch.Generator().manual_seed(seed))
        with torch.inference_mode():
            faces = generator(z)
    finally:
        torch.set_num_threads(threads)
    pixels = ((faces.permute(0, 2, 3, 1).numpy() + 1.0) * 127.5).round().clip(0, 255)
    return pixels.astype(np.uint8)


def generate_scenes(n: int, seed: int = 0, config: SceneConfig | None = None, start: int = 0) -> Iterator[Scene]:
    """Yield scenes ``start .. start + n - 1`` of ``seed`` (in memory; nothing written)."""
    if n < 1:
        raise ParameterError(f"the number of scenes must be at least 1, got {n}")
    generator = SceneGenerator(seed, config)
    for index in range(start, start + n):
        yield generator.scene(index)


@dataclass(frozen=True)
class ScenesConfig(Config):
    """What ``encoderscope scenes`` writes: ``n`` scenes of ``seed``, drawn as ``scene`` says."""

    n: int = option(100, help="Number of scenes.")
    seed: int = option(0, help=HELP_SEED)
    scene: SceneConfig = option(factory=SceneConfig, help="How scenes are drawn.")

    def check(self) -> None:
        if self.n < 1:
            raise ParameterError(f"the number of scenes must be at least 1, got {self.n}")


@dataclass
class ScenesSummary:
    """What :func:`write_scenes` wrote: the VOC root, the settings and per-class object counts."""

    root: Path
    n: int
    seed: int
    config: SceneConfig
    kinds_used: tuple[str, ...]
    class_counts: dict[str, int]
    objects_per_image: dict[int, int]
    missing_sources: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"ScenesSummary({self.n} scenes of seed {self.seed}, {sum(self.class_counts.values())} objects, "
                f"kinds {', '.join(self.kinds_used)})")

    figure = drawn_by("encoderscope.report.summaries:scenes_figure", "A matplotlib figure: objects per class.")
    _repr_html_ = drawn_by("encoderscope.report.summaries:scenes_html", "The notebook view (HTML).")

    def run_record(self) -> RunRecord:
        """The run record (without the output path, so identical runs give identical files but for timings)."""
        details = {
            "kinds_used": list(self.kinds_used),
            "class_counts": self.class_counts,
            "objects_per_image": {str(k): v for k, v in self.objects_per_image.items()},
            "missing_sources": self.missing_sources,
        }
        config = ScenesConfig(self.n, self.seed, self.config)
        return RunRecord.create("scenes", config, command=python_call("encoderscope.write_scenes", config),
                                seed=self.seed, details=details)

    def save(self, out: str | Path | None = None) -> Path:
        """Write the run record into the VOC folder (the scenes themselves are written by :func:`write_scenes`)."""
        folder = Path(out) if out is not None else self.root
        self.run_record().write(folder)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ScenesSummary:
        """The summary of a folder written by :func:`write_scenes`."""
        root = Path(folder)
        run = RunRecord.read(root, "scenes", "generated scenes")
        config = ScenesConfig.from_json(run.config)
        details = run.details
        per_image = {int(k): v for k, v in details["objects_per_image"].items()}
        return cls(root, config.n, config.seed, config.scene, tuple(details["kinds_used"]),
                   dict(details["class_counts"]), per_image, list(details["missing_sources"]))


def write_scenes(
    out: str | Path, n: int = 100, seed: int = 0, config: SceneConfig | None = None, progress: bool = True
) -> ScenesSummary:
    """Generate ``n`` scenes and write them as a PASCAL VOC folder under ``out`` (plus ``run.json``).

    Example:
        >>> import tempfile
        >>> summary = write_scenes(tempfile.mkdtemp(), n=1, seed=0, config=SceneConfig(kinds=("shape",)),
        ...                        progress=False)
        >>> sorted(p.name for p in summary.root.iterdir())
        ['Annotations', 'ImageSets', 'JPEGImages', 'SegmentationObject', 'classes.txt', 'run.json']
    """
    if n < 1:
        raise ParameterError(f"the number of scenes must be at least 1, got {n}")
    config = config or SceneConfig()
    root = Path(out)
    generator = SceneGenerator(seed, config)
    ids: list[str] = []
    classes: Counter[str] = Counter()
    per_image: Counter[int] = Counter()
    with progress_bar("scenes", total=n, enabled=progress) as advance:
        for index in range(n):
            scene = generator.scene(index)
            write_voc_sample(root, scene.annotation(), scene.image, scene.object_map, config.jpeg_quality, "scenes")
            ids.append(scene.image_id)
            classes.update(o.name for o in scene.objects)
            per_image[len(scene.objects)] += 1
            advance(1)
    write_image_set(root, ids, "all")
    names = [*FASHION_NAMES, "horse", "shape", "face"]
    write_text(root / "classes.txt", "".join(f"{name}\n" for name in names))
    summary = ScenesSummary(
        root,
        n,
        int(seed),
        config,
        generator.kinds,
        dict(sorted(classes.items())),
        dict(sorted(per_image.items())),
        list(generator.missing),
    )
    summary.save()
    return summary
