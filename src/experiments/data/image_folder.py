"""A folder of labelled images, torch-free: DIR/<class>/... PNG or JPEG files (torchvision's
ImageFolder layout), listed, checked and read with Pillow into one size and one colour mode.

Classes are the sub-folders' names, sorted; a class folder is searched recursively, its files in
sorted order. Hidden files and folders (a name starting with '.', such as .DS_Store or
.ipynb_checkpoints) are left out; other files whose extension is not .png, .jpg or .jpeg
(any case) are skipped with a log line naming them; a PNG or JPEG file Pillow cannot read is
a `DataError` naming it. Every image is converted to `data.color` (Pillow's "L" or "RGB"; an
alpha channel is dropped) and resized to `data.image_size` (bilinear, aspect ratio not kept):
the run logs how many were. The config checks read the folder before torch is imported; the
data module reads it again through the same cache, so each image is decoded once a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from experiments.data.splits import check_fractions, minimum_rows
from experiments.errors import ConfigError, DataError

EXTENSIONS = (".png", ".jpg", ".jpeg")
COLORS = {"grayscale": "L", "rgb": "RGB"}  # data.color -> Pillow's mode
LAYOUTS = ("flat", "image")  # rows of C*H*W values (dense networks) | (C, H, W) arrays (convnets)
SCALINGS = ("standard", "none")  # per-channel mean and std of the training images | raw 0-255
IMAGE_DATA_TARGET = "experiments.data.ImageFolderDataModule"


@dataclass(frozen=True)
class ImageOptions:
    """The `data.*` keys that say how to read images (hashable: reads are cached by them)."""

    image_size: tuple[int, int]  # (height, width)
    color: str = "rgb"
    test_size: float = 0.2
    val_size: float = 0.2

    @classmethod
    def from_config(cls, data) -> ImageOptions:
        size = data.get("image_size")
        size = list(size) if isinstance(size, Sequence) and not isinstance(size, str) else size
        return cls(
            _image_size(size),
            data.get("color", "rgb"),
            data.get("test_size", 0.2),
            data.get("val_size", 0.2),
        )

    def __post_init__(self) -> None:
        _one_of("color", self.color, tuple(COLORS))
        check_fractions(self.test_size, self.val_size)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of every image as the model sees it."""
        return (1 if self.color == "grayscale" else 3, *self.image_size)


def _image_size(size: object) -> tuple[int, int]:
    """`data.image_size`: one side (square images) or [height, width], positive integers."""
    sides = size if isinstance(size, list) else [size, size]
    ok = len(sides) == 2 and all(isinstance(s, int) and not isinstance(s, bool) for s in sides)
    if not ok or min(sides) < 1:
        raise ConfigError(
            f"data.image_size={size!r} is not allowed: use a positive integer (square images) "
            "or [height, width], e.g. 32 or [24, 32]"
        )
    return sides[0], sides[1]


@dataclass(frozen=True)
class Listing:
    """The image files of a folder, their class index, and the files left out."""

    root: Path
    classes: tuple[str, ...]
    files: tuple[Path, ...]
    labels: tuple[int, ...]
    skipped: tuple[Path, ...]


def _hidden(path: Path) -> bool:
    return path.name.startswith(".")


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in EXTENSIONS


def image_files_under(folder: Path) -> tuple[list[Path], list[Path]]:
    """(the PNG and JPEG files, the other files) anywhere under `folder`, sorted, hidden files
    and folders left out."""
    found = [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(q.startswith(".") for q in p.relative_to(folder).parts)
    ]
    return [p for p in found if _is_image_name(p)], [p for p in found if not _is_image_name(p)]


def skipped_note(skipped: list[Path] | tuple[Path, ...], root: Path) -> str:
    """The log line about files left out for their extension."""
    shown = ", ".join(str(p.relative_to(root)) for p in skipped[:5])
    more = ", ..." if len(skipped) > 5 else ""
    return f"skipped {len(skipped)} files that are not PNG or JPEG: {shown}{more}"


def folder_path(key: str, value: object, wanted: str) -> Path:
    """`key`=value as an existing folder, or one line saying what `wanted` is (a CSV file:
    which experiment trains on it)."""
    path = Path(str(value)).expanduser()
    if path.is_file():
        hint = (
            "; a CSV trains with experiment=table data.path=FILE data.target=COLUMN"
            if path.suffix.lower() == ".csv"
            else ""
        )
        raise DataError(f"{key}={path} is a file, not a folder: give {wanted}{hint}")
    if not path.is_dir():
        raise DataError(f"{key}={path} does not exist: give {wanted}")
    return path


CLASS_FOLDERS = "a folder holding one sub-folder of images per class, e.g. DIR/cat/1.png"


def list_image_folder(root: Path) -> Listing:
    """The PNG and JPEG files of each class folder under `root`; a `DataError` for a folder
    without two classes or a class without images."""
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not _hidden(p))
    if not folders:
        loose = any(_is_image_name(p) for p in root.iterdir() if p.is_file())
        where = "holds images but no class folders" if loose else "holds no class folders"
        raise DataError(
            f"{root} {where}: put each class's images in a sub-folder named after the class, "
            f"e.g. {root}/cat/1.png"
        )
    if len(folders) == 1:
        raise DataError(
            f"{root} holds one class folder only ({folders[0].name}): a classifier needs at "
            "least two, one sub-folder per class"
        )
    files, labels, skipped = [], [], []
    for index, folder in enumerate(folders):
        images, others = image_files_under(folder)
        if not images:
            raise DataError(
                f"{folder} holds no PNG or JPEG files: add the class's images, or remove the folder"
            )
        files += images
        labels += [index] * len(images)
        skipped += others
    classes = tuple(f.name for f in folders)
    return Listing(root, classes, tuple(files), tuple(labels), tuple(skipped))


@dataclass
class ImageFolder:
    """Every image of a folder as uint8 pixels (images, channels, height, width), its class."""

    source: str
    pixels: np.ndarray
    labels: np.ndarray  # (images,): the class index
    classes: list[str]
    files: list[Path]
    notes: list[str] = field(default_factory=list)  # what the run logs about the folder


def read_image(path: Path, options: ImageOptions) -> tuple[np.ndarray, bool, bool]:
    """(pixels (channels, height, width) as uint8, resized?, converted?) of one image file."""
    from PIL import Image, UnidentifiedImageError

    height, width = options.image_size
    try:
        with Image.open(path) as image:
            image.load()
            converted = image.mode != COLORS[options.color]
            image = image.convert(COLORS[options.color]) if converted else image
            resized = image.size != (width, height)
            if resized:
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(
            f"{path} is not an image Pillow can read ({reason}): remove it or replace it"
        ) from err
    pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    return pixels, resized, converted


def read_image_folder(path: str | Path, options: ImageOptions) -> ImageFolder:
    """The checked images under the folder `path` (see the module's docstring)."""
    listing = list_image_folder(folder_path("data.path", path, CLASS_FOLDERS))
    needed = minimum_rows(options.test_size, options.val_size)
    if len(listing.files) < needed:
        raise DataError(
            f"{listing.root} holds {len(listing.files)} images: the test ({options.test_size}) "
            f"and validation ({options.val_size}) splits need at least {needed}"
        )
    stamps = tuple((s.st_mtime_ns, s.st_size) for s in (p.stat() for p in listing.files))
    return _read_listing(listing, stamps, options)


@lru_cache(maxsize=1)
def _read_listing(listing: Listing, stamps: tuple, options: ImageOptions) -> ImageFolder:
    read = [read_image(p, options) for p in listing.files]
    pixels = np.stack([r[0] for r in read])
    resized, converted = sum(r[1] for r in read), sum(r[2] for r in read)
    counts = np.bincount(listing.labels, minlength=len(listing.classes))
    per_class = ", ".join(f"{c} {n}" for c, n in zip(listing.classes, counts, strict=True))
    height, width = options.image_size
    notes = [
        f"{listing.root}: {len(pixels)} images of {len(listing.classes)} classes ({per_class}); "
        f"{resized} resized to {height}x{width} (height x width), {converted} converted to "
        f"{options.color} (data.image_size, data.color)"
    ]
    if listing.skipped:
        notes.append(skipped_note(listing.skipped, listing.root))
    labels = np.asarray(listing.labels, dtype=np.int64)
    return ImageFolder(
        str(listing.root), pixels, labels, list(listing.classes), list(listing.files), notes
    )


def _one_of(key: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"data.{key}={value!r} is unknown: choose one of {', '.join(allowed)}")


def check_layout(layout: object) -> None:
    _one_of("layout", layout, LAYOUTS)


def check_scaling(scaling: object) -> None:
    _one_of("scaling", scaling, SCALINGS)


def is_image_data(data) -> bool:
    """`cfg.data` is a folder of images (`experiment=images`)."""
    return data.get("_target_") == IMAGE_DATA_TARGET


def check_image_data(data) -> str:
    """Read and check the folder `cfg.data` names; return its task (binary for two classes)."""
    if "path" not in set(data.keys()) or OmegaConf.is_missing(data, "path") or not data.path:
        raise ConfigError(
            "data.path is not set: an image experiment reads your folder, "
            "e.g. experiment=images data.path=DIR (one sub-folder of images per class)"
        )
    check_layout(data.get("layout", "flat"))
    check_scaling(data.get("scaling", "standard"))
    folder = read_image_folder(data.path, ImageOptions.from_config(data))
    return "binary" if len(folder.classes) == 2 else "multiclass"


def refuse_image_folder(data) -> None:
    """A table experiment given a folder of class folders holding images: say which to use."""
    keys = set(data.keys())  # `in` on a DictConfig is False for a key left at ???
    if "path" not in keys or OmegaConf.is_missing(data, "path") or not data.path:
        return
    path = Path(str(data.path)).expanduser()
    if path.is_dir() and any(
        _is_image_name(p) for d in path.iterdir() if d.is_dir() for p in d.rglob("*")
    ):
        raise DataError(
            f"data.path={path} is a folder of images, not a CSV file: train on it with "
            f"experiment=images data.path={path}"
        )
