"""A folder of images a test draws itself, in torchvision's ImageFolder layout: three kinds of
shapes (circle, square, triangle) at random positions and sizes, light on a dark background."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle")


def draw_shape(kind: str, side: int, rng: np.random.Generator) -> Image.Image:
    """One RGB image, `side` pixels square, of a `kind` shape in a random colour and place."""
    background = tuple(int(v) for v in rng.integers(0, 80, 3))
    image = Image.new("RGB", (side, side), background)
    pen = ImageDraw.Draw(image)
    r = rng.uniform(side / 6, side / 2.5)
    cx, cy = rng.uniform(r, side - r, 2)
    colour = tuple(int(v) for v in rng.integers(150, 256, 3))
    if kind == "circle":
        pen.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif kind == "square":
        pen.rectangle([cx - r, cy - r, cx + r, cy + r], fill=colour)
    else:
        pen.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    return image


def draw_shapes(
    root: Path, per_class: int = 60, side: int = 24, seed: int = 0, kinds=SHAPES
) -> Path:
    """`per_class` PNG images of each kind under root/<kind>/: every third grayscale, every
    seventh 4 pixels smaller, the sixth of each class a JPEG. Returns `root`."""
    rng = np.random.default_rng(seed)
    for kind in kinds:
        folder = root / kind
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = draw_shape(kind, side - 4 if i % 7 == 6 else side, rng)
            if i % 3 == 0:
                image = image.convert("L")
            image.save(folder / (f"{i:03d}.jpg" if i == 5 else f"{i:03d}.png"))
    return root
