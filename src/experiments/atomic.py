"""Files written whole or not at all: a reader, or a resume after `kill -9`, never sees half."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from experiments.errors import storage_error

_sync_each = True  # False inside `one_sync_at_the_end`


def write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """`write(f)` into memory, then `write_bytes_atomic`: a `write` that fails part-way leaves
    nothing on disk (this project's files and checkpoints are small)."""
    buffer = io.BytesIO()
    write(buffer)
    write_bytes_atomic(path, buffer.getvalue())


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write a temporary file beside `path`, flush it to disk, then rename it over `path`.

    The rename is atomic on one filesystem, so a reader finds the old file or the new one. As
    few system calls as that takes (open, write, close, rename; Python's buffered files add a
    stat, a seek and a terminal check each): a population writes tens of thousands of files.
    A full disk or a folder that is not writable is a `StorageError` naming `path`; the
    temporary file is gone.
    """
    path = Path(path)
    try:
        _write_and_rename(path, data)
    except OSError as err:  # a full disk, a folder not ours: one line naming the file
        if (line := storage_error(err, path)) is None:
            raise
        raise line from err


def _write_and_rename(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        fd = os.open(tmp, flags, 0o644)
    except FileNotFoundError:  # a folder not made yet
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, flags, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if _sync_each:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    text = json.dumps(payload, indent=2, sort_keys=False) + "\n"
    write_bytes_atomic(path, text.encode())


def write_csv_atomic(path: Path, frame: Any) -> None:
    """A pandas DataFrame as CSV, without its index (makes the folder)."""
    write_bytes_atomic(path, frame.to_csv(index=False).encode())


@contextmanager
def one_sync_at_the_end() -> Iterator[None]:
    """Many files at once (a population's thousands of job folders): each is still written
    beside its target and renamed into place, but flushed to disk by one `os.sync()` at the end
    rather than an fsync each (~3 ms apiece here)."""
    global _sync_each
    _sync_each = False
    try:
        yield
    finally:
        _sync_each = True
        os.sync()
