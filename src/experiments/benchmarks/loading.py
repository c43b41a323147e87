"""Loading a large CSV: read, check, split, encode and scale (`CsvDataModule.setup` and its three
splits as tensors) against a bare `pandas.read_csv` of the same file.

The file: 1,000,000 rows x 20 numeric columns (19 features and a real-valued label). Its rows are
10,000 random rows repeated, which makes it quick to write and costs the reader exactly as much.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROWS, COLUMNS, DISTINCT = 1_000_000, 20, 10_000


def write_numeric_csv(path: Path, rows: int = ROWS, columns: int = COLUMNS) -> Path:
    """`rows` x `columns` numbers, the last column named `label`."""
    names = [f"x{i}" for i in range(columns - 1)] + ["label"]
    block = np.random.default_rng(0).normal(size=(min(rows, DISTINCT), columns))
    text = pd.DataFrame(block, columns=names).to_csv(index=False, float_format="%.6g")
    header, body = text.split("\n", 1)
    with open(path, "w") as f:
        f.write(header + "\n")
        for _ in range(rows // len(block)):
            f.write(body)
    return path


def load(path: Path) -> float:
    """Seconds to read, check, split, encode and scale `path` as a run does."""
    from experiments.data import CsvDataModule
    from experiments.data.reader import _read_csv

    _read_csv.cache_clear()  # a cold read: no run before this one
    started = time.perf_counter()
    datamodule = CsvDataModule(path=str(path), target="label")
    datamodule.setup()
    for split in (datamodule.train_xy, datamodule.val_xy, datamodule.test_xy):
        assert len(split[0]) == len(split[1])
    return time.perf_counter() - started


def bare_read(path: Path) -> float:
    started = time.perf_counter()
    pd.read_csv(path)
    return time.perf_counter() - started


def loading_figures(folder: Path, rounds: int = 3) -> dict[str, float]:
    """Medians of `rounds` rounds, the two taking turns; the file is deleted afterwards."""
    path = write_numeric_csv(folder / "loading.csv")
    try:
        ours, bare = [], []
        for _ in range(rounds):
            bare.append(bare_read(path))
            ours.append(load(path))
    finally:
        path.unlink()
    return {
        "pandas.read_csv of 1,000,000 x 20, s": statistics.median(bare),
        "CSV loaded (read, split, scale), s": statistics.median(ours),
        "CSV loaded / pandas.read_csv": statistics.median(ours) / statistics.median(bare),
        "CSV loaded / pandas.read_csv, highest round": max(
            o / b for o, b in zip(ours, bare, strict=True)
        ),
    }
