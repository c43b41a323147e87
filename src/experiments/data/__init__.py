"""Lesson data modules: inline tables (XOR, AND, linear, scores), labelled CSVs (heart, any user's
table), scikit-learn's bundled tables (iris, digits) and a user's folder of images.

The modules are imported on first use (`experiments.data.CsvDataModule`, as the configs name
them), so the torch-free readers here (`reader`, `prepare`, `cells`, `labels`, `splits`,
`encoder`, `image_folder`) load without Lightning: the config checks read a CSV, or a folder of
images, before torch is imported.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "BundledDataModule": "experiments.data.bundled",
    "CsvDataModule": "experiments.data.csv",
    "ImageFolderDataModule": "experiments.data.images",
    "TableDataModule": "experiments.data.table",
}
__all__ = list(_MODULES)


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return getattr(importlib.import_module(_MODULES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
