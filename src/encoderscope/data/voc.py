"""Annotated datasets: PASCAL VOC folders (read and write) and COCO json, for the localisation metrics.

Boxes are kept as written in VOC XML (1-based, inclusive corners). :meth:`VocAnnotation.boxes` returns them in the
convention of the CorLoc reference (LOST): ``xmin - 1`` and ``ymin - 1``, ``xmax`` and ``ymax`` unchanged, i.e.
0-based start and exclusive end. COCO ``[x, y, w, h]`` boxes are stored so that the same call gives LOST's
``[x, y, x + w, y + h]``.

Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> root = Path(tempfile.mkdtemp())
    >>> ann = VocAnnotation("000001", "000001.jpg", 64, 48, (VocObject("cat", (11, 6, 40, 30)),))
    >>> write_voc_sample(root, ann, Image.new("RGB", (64, 48)))
    >>> _ = write_image_set(root, ["000001"])
    >>> dataset = open_voc(root)
    >>> dataset[0].boxes().tolist()
    [[10.0, 5.0, 40.0, 30.0]]
"""

from __future__ import annotations

import io
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from encoderscope._io import write_bytes, write_text
from encoderscope.data.images import ImageItem, ImageSet, SkippedInput, load_image
from encoderscope.errors import ImageError

IMAGE_SET_DIR = Path("ImageSets") / "Main"


@dataclass(frozen=True)
class VocObject:
    """One annotated object: class ``name``, ``box`` as in VOC XML (xmin, ymin, xmax, ymax; 1-based, inclusive)."""

    name: str
    box: tuple[float, float, float, float]
    difficult: bool = False
    truncated: bool = False


@dataclass(frozen=True)
class VocAnnotation:
    """The annotation of one image (VOC ``Annotations/<id>.xml``)."""

    image_id: str
    filename: str
    width: int
    height: int
    objects: tuple[VocObject, ...]

    def kept_objects(
        self,
        skip_difficult: bool = False,
        skip_truncated: bool = False,
        no_hard: bool = False,
        classes: Sequence[str] | None = None,
    ) -> list[int]:
        """Indices of the objects that pass the filters (``no_hard`` = skip difficult and truncated)."""
        wanted = set(classes) if classes is not None else None
        kept = []
        for index, obj in enumerate(self.objects):
            if (skip_difficult or no_hard) and obj.difficult:
                continue
            if (skip_truncated or no_hard) and obj.truncated:
                continue
            if wanted is not None and obj.name not in wanted:
                continue
            kept.append(index)
        return kept

    def boxes(
        self,
        lost_convention: bool = True,
        skip_difficult: bool = False,
        skip_truncated: bool = False,
        no_hard: bool = False,
        classes: Sequence[str] | None = None,
    ) -> np.ndarray:
        """(N, 4) float boxes ``[xmin, ymin, xmax, ymax]`` of the kept objects.

        ``lost_convention=True`` (default, as the CorLoc reference) shifts xmin and ymin by -1; ``False`` returns
        the XML values. ``no_hard`` drops difficult and truncated objects (the reference's ``--no_hard``);
        ``classes`` keeps only those class names (e.g. ``["person"]``).
        """
        kept = self.kept_objects(skip_difficult, skip_truncated, no_hard, classes)
        boxes = np.array([self.objects[i].box for i in kept], dtype=np.float64).reshape(-1, 4)
        if lost_convention:
            boxes[:, :2] -= 1.0
        return boxes


def read_voc_xml(path: str | os.PathLike[str]) -> VocAnnotation:
    """Parse a VOC annotation file (``ImageError`` naming the file when it is missing or malformed).

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "a.xml"
        >>> _ = p.write_text("<annotation><filename>a.jpg</filename><size><width>9</width><height>8</height>"
        ...     "</size><object><name>dog</name><difficult>1</difficult><bndbox><xmin>1</xmin><ymin>2</ymin>"
        ...     "<xmax>5</xmax><ymax>6</ymax></bndbox></object></annotation>")
        >>> read_voc_xml(p).objects[0]
        VocObject(name='dog', box=(1.0, 2.0, 5.0, 6.0), difficult=True, truncated=False)
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
        filename = (root.findtext("filename") or f"{path.stem}.jpg").strip()
        size = root.find("size")
        width = int(float(size.findtext("width", "0"))) if size is not None else 0
        height = int(float(size.findtext("height", "0"))) if size is not None else 0
        objects = []
        for node in root.iter("object"):
            bndbox = node.find("bndbox")
            if bndbox is None:
                continue
            box = tuple(float(_required(bndbox, tag)) for tag in ("xmin", "ymin", "xmax", "ymax"))
            objects.append(
                VocObject(
                    name=(node.findtext("name") or "").strip(),
                    box=box,  # type: ignore[arg-type]
                    difficult=_flag(node.findtext("difficult")),
                    truncated=_flag(node.findtext("truncated")),
                )
            )
    except FileNotFoundError:
        raise ImageError(f"cannot read annotation {path}: no such file") from None
    except (ET.ParseError, ValueError, OSError) as err:
        raise ImageError(f"cannot read annotation {path}: {' '.join(str(err).split())}") from None
    return VocAnnotation(path.stem, filename, width, height, tuple(objects))


def _required(node: ET.Element, tag: str) -> str:
    text = node.findtext(tag)
    if text is None:
        raise ValueError(f"bndbox without {tag}")
    return text


def _flag(text: str | None) -> bool:
    return bool(text) and text.strip() not in ("0", "", "false", "False")


def voc_xml(annotation: VocAnnotation, folder: str = "VOC", segmented: bool = False) -> str:
    """The VOC XML text of an annotation (integers written without a decimal point)."""
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = folder
    ET.SubElement(root, "filename").text = annotation.filename
    size = ET.SubElement(root, "size")
    ET.SubElement(size, "width").text = str(annotation.width)
    ET.SubElement(size, "height").text = str(annotation.height)
    ET.SubElement(size, "depth").text = "3"
    ET.SubElement(root, "segmented").text = "1" if segmented else "0"
    for obj in annotation.objects:
        node = ET.SubElement(root, "object")
        ET.SubElement(node, "name").text = obj.name
        ET.SubElement(node, "pose").text = "Unspecified"
        ET.SubElement(node, "truncated").text = str(int(obj.truncated))
        ET.SubElement(node, "difficult").text = str(int(obj.difficult))
        bndbox = ET.SubElement(node, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), obj.box, strict=True):
            ET.SubElement(bndbox, tag).text = _number(value)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def voc_palette() -> list[int]:
    """The 256-entry PASCAL VOC colour palette (flat RGB list); index 255 is the void colour (224, 224, 192)."""
    palette = []
    for index in range(256):
        r = g = b = 0
        code = index
        for bit in range(8):
            r |= ((code >> 0) & 1) << (7 - bit)
            g |= ((code >> 1) & 1) << (7 - bit)
            b |= ((code >> 2) & 1) << (7 - bit)
            code >>= 3
        palette.extend((r, g, b))
    return palette


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def write_voc_sample(
    root: str | os.PathLike[str],
    annotation: VocAnnotation,
    image: Image.Image,
    object_map: np.ndarray | None = None,
    jpeg_quality: int = 95,
    folder: str | None = None,
) -> None:
    """Write one image into a VOC folder: ``JPEGImages/<filename>``, ``Annotations/<id>.xml`` and, with an
    ``object_map`` (H, W) of object indices (0 background, i for ``annotation.objects[i - 1]``, 255 void),
    ``SegmentationObject/<id>.png`` as a VOC-palette PNG. ``folder`` is the XML's ``<folder>`` (default: the
    root's name). All writes are atomic and byte-deterministic."""
    root = Path(root)
    rgb = image.convert("RGB")
    if rgb.size != (annotation.width, annotation.height):
        raise ImageError(
            f"image {annotation.image_id} is {rgb.size}, its annotation says {annotation.width}x{annotation.height}"
        )
    write_bytes(root / "JPEGImages" / annotation.filename, _encode(rgb, "JPEG", quality=jpeg_quality))
    xml = voc_xml(annotation, folder or root.name, object_map is not None)
    write_text(root / "Annotations" / f"{annotation.image_id}.xml", xml)
    if object_map is not None:
        indices = np.asarray(object_map)
        if indices.shape != (annotation.height, annotation.width):
            raise ImageError(f"object map of {annotation.image_id} has shape {indices.shape}")
        mask = Image.frombytes("P", (annotation.width, annotation.height), indices.astype(np.uint8).tobytes())
        mask.putpalette(voc_palette())
        write_bytes(root / "SegmentationObject" / f"{annotation.image_id}.png", _encode(mask, "PNG"))


def write_image_set(root: str | os.PathLike[str], image_ids: Sequence[str], name: str = "all") -> Path:
    """Write ``ImageSets/Main/<name>.txt`` listing ``image_ids``, one per line."""
    path = Path(root) / IMAGE_SET_DIR / f"{name}.txt"
    write_text(path, "".join(f"{i}\n" for i in image_ids))
    return path


@dataclass(frozen=True)
class AnnotatedImage:
    """One image of an annotated dataset: its key (image id), image file, annotation and optional mask file."""

    key: str
    image_path: Path
    annotation: VocAnnotation
    mask_path: Path | None = None

    def load(self) -> Image.Image:
        """The RGB image."""
        return load_image(self.image_path)

    def boxes(self, **filters: object) -> np.ndarray:
        """Ground-truth boxes (LOST convention by default); see :meth:`VocAnnotation.boxes`."""
        return self.annotation.boxes(**filters)  # type: ignore[arg-type]

    def object_map(self) -> np.ndarray | None:
        """The (H, W) uint8 object-index map (0 background, i = i-th object, 255 void), or None without a mask."""
        if self.mask_path is None:
            return None
        try:
            with Image.open(self.mask_path) as handle:
                if handle.mode not in ("P", "L"):
                    raise ImageError(
                        f"cannot read mask {self.mask_path}: mode {handle.mode}, expected a palette PNG of indices"
                    )
                return np.array(handle)
        except (OSError, SyntaxError, ValueError) as err:
            raise ImageError(f"cannot read mask {self.mask_path}: {err}") from None


@dataclass
class AnnotatedDataset:
    """Images with boxes (and masks where present), from :func:`open_voc` or :func:`open_coco`."""

    root: Path
    entries: list[AnnotatedImage]
    skipped: list[SkippedInput] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[AnnotatedImage]:
        return iter(self.entries)

    def __getitem__(self, index: int) -> AnnotatedImage:
        return self.entries[index]

    @property
    def keys(self) -> list[str]:
        """Image ids in order."""
        return [entry.key for entry in self.entries]

    def images(self) -> ImageSet:
        """The images as an :class:`ImageSet` (keys = image ids), for capture and NAVE."""
        items = [ImageItem(entry.key, None, entry.image_path) for entry in self.entries]
        return ImageSet(items, list(self.skipped), [str(self.root)])

    def gt_boxes(self, **filters: object) -> list[np.ndarray]:
        """Ground-truth boxes per image, same order as :attr:`entries` (see :meth:`VocAnnotation.boxes`)."""
        return [entry.boxes(**filters) for entry in self.entries]


def _voc_root(root: Path) -> Path:
    if (root / "Annotations").is_dir():
        return root
    candidates = sorted(p.parent for p in root.glob("*/Annotations")) + sorted(
        p.parent for p in root.glob("*/*/Annotations")
    )
    if len(candidates) == 1:
        return candidates[0]
    if not root.exists():
        raise ImageError(f"cannot open VOC folder {root}: no such folder")
    found = ", ".join(str(c) for c in candidates) or "none"
    raise ImageError(f"cannot open VOC folder {root}: expected one folder with Annotations/ (found: {found})")


def open_voc(root: str | os.PathLike[str], image_set: str | None = None, limit: int | None = None) -> AnnotatedDataset:
    """A VOC-format folder (``Annotations/*.xml``, ``JPEGImages/``, optional ``SegmentationObject/``).

    ``root`` may be the year folder (``VOC2007``) or a parent holding exactly one. ``image_set`` reads the ids
    from ``ImageSets/Main/<image_set>.txt`` (e.g. ``"trainval"``); without it every XML is used, sorted.
    Unreadable annotations are skipped and listed in ``.skipped``.

    Example:
        >>> open_voc("/no/such/folder")
        Traceback (most recent call last):
        ...
        encoderscope.errors.ImageError: cannot open VOC folder /no/such/folder: no such folder
    """
    base = _voc_root(Path(root))
    if image_set is not None:
        listing = base / IMAGE_SET_DIR / f"{image_set}.txt"
        if not listing.is_file():
            have = sorted(p.stem for p in (base / IMAGE_SET_DIR).glob("*.txt"))
            raise ImageError(f"no image set {listing}; available: {', '.join(have) or 'none'}")
        ids = [line.split()[0] for line in listing.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        ids = sorted(p.stem for p in (base / "Annotations").glob("*.xml"))
    if limit is not None:
        ids = ids[:limit]
    entries: list[AnnotatedImage] = []
    skipped: list[SkippedInput] = []
    classes: set[str] = set()
    for image_id in ids:
        try:
            annotation = read_voc_xml(base / "Annotations" / f"{image_id}.xml")
        except ImageError as err:
            skipped.append(SkippedInput(image_id, str(err)))
            continue
        image_path = base / "JPEGImages" / annotation.filename
        if not image_path.exists() and (base / "JPEGImages" / f"{image_id}.jpg").exists():
            image_path = base / "JPEGImages" / f"{image_id}.jpg"
        mask = base / "SegmentationObject" / f"{image_id}.png"
        entries.append(AnnotatedImage(image_id, image_path, annotation, mask if mask.is_file() else None))
        classes.update(obj.name for obj in annotation.objects)
    if not entries:
        raise ImageError(f"no readable annotations in {base / 'Annotations'}")
    return AnnotatedDataset(base, entries, skipped, sorted(classes))


def open_coco(
    annotations: str | os.PathLike[str],
    images_dir: str | os.PathLike[str] | None = None,
    remove_crowd: bool = True,
    file_names: Sequence[str] | str | os.PathLike[str] | None = None,
    limit: int | None = None,
) -> AnnotatedDataset:
    """A COCO instances json (boxes only; masks are not read). ``iscrowd`` boxes are removed by default (as the
    reference does for COCO20k). ``file_names`` (a list or a text file of names, e.g. COCO20k's list) restricts
    and orders the images; ``images_dir`` defaults to the json's folder.
    """
    path = Path(annotations)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        images = {int(img["id"]): img for img in data["images"]}
        categories = {int(c["id"]): str(c["name"]) for c in data.get("categories", [])}
        per_image: dict[int, list[VocObject]] = {i: [] for i in images}
        for ann in data.get("annotations", []):
            if remove_crowd and ann.get("iscrowd", 0):
                continue
            x, y, w, h = (float(v) for v in ann["bbox"])
            name = categories.get(int(ann["category_id"]), str(ann["category_id"]))
            # stored like VOC XML so that the LOST shift gives [x, y, x + w, y + h]
            per_image.setdefault(int(ann["image_id"]), []).append(VocObject(name, (x + 1, y + 1, x + w, y + h)))
    except FileNotFoundError:
        raise ImageError(f"cannot read COCO annotations {path}: no such file") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ImageError(f"cannot read COCO annotations {path}: {type(err).__name__} {err}") from None
    folder = Path(images_dir) if images_dir is not None else path.parent
    order = sorted(images, key=lambda i: str(images[i]["file_name"]))
    if file_names is not None:
        wanted = _names(file_names)
        by_name = {Path(str(images[i]["file_name"])).name: i for i in images}
        order = [by_name[n] for n in wanted if n in by_name]
    if limit is not None:
        order = order[:limit]
    entries = []
    for image_id in order:
        info = images[image_id]
        name = str(info["file_name"])
        annotation = VocAnnotation(
            Path(name).stem,
            name,
            int(info.get("width", 0)),
            int(info.get("height", 0)),
            tuple(per_image.get(image_id, [])),
        )
        entries.append(AnnotatedImage(Path(name).stem, folder / name, annotation, None))
    if not entries:
        raise ImageError(f"no images in COCO annotations {path}")
    return AnnotatedDataset(folder, entries, [], sorted(set(categories.values())))


def _names(file_names: Sequence[str] | str | os.PathLike[str]) -> list[str]:
    if isinstance(file_names, str | os.PathLike):
        lines = Path(file_names).read_text(encoding="utf-8").splitlines()
        return [Path(line.strip()).name for line in lines if line.strip()]
    return [Path(n).name for n in file_names]
