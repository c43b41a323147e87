"""One live run per output folder: `<folder>/run.lock` names its owner (PID, host, start time).

The owner holds an `flock` on the file for as long as it lives, and the kernel drops it when the
process dies however it dies, so liveness needs no guessing from PIDs: a second run started into a
folder whose lock is held stops with one line, and a lock file left by a dead process (kill -9, a
node that went away, a SLURM job requeued into its own folder) is free, taken over and logged. An
orderly end removes the file. (On NFS, Linux maps flock to NFS byte-range locks.)

Single runs take the lock in `RunLockCallback.on_run_start`, before Hydra creates the folder or
writes `.hydra/`, so a refused run writes nothing; a sweep takes its sweep folder the same way in
`on_multirun_start`. A sweep job takes its own folder when its task starts (`cli`): Hydra has
written the job's `.hydra/` by then, and a refused job records nothing else.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from experiments.errors import ExperimentError, storage_error
from experiments.loop.data_parallel import is_child_rank

log = logging.getLogger(__name__)

LOCK_FILE = "run.lock"


class RunLocked(ExperimentError):
    """Another live run is writing this output folder."""


class RunLock:
    """The lock of one folder, held by this process from `acquire` to `release`."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).resolve()
        self.path = self.folder / LOCK_FILE
        self._fd: int | None = None
        self._pid = os.getpid()

    def acquire(self) -> None:
        """Take the lock, or raise `RunLocked` naming its live owner."""
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _owner(fd)
                os.close(fd)
                raise RunLocked(
                    f"{self.folder} is being written by another run ({_describe(owner)}): wait "
                    "for it to end, or give this run another output folder"
                ) from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # its owner removed it between our open and our lock: try the new one
        if previous := _owner(fd):
            log.warning(
                "took over %s from %s, which is no longer running", self.path, _describe(previous)
            )
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        except OSError:  # a full disk: no lock file left behind, and none held
            self.path.unlink(missing_ok=True)
            os.close(fd)
            raise
        self._fd, self._pid = fd, os.getpid()

    def release(self) -> None:
        """Remove the file and drop the lock (in the process that took it; a no-op elsewhere)."""
        if self._fd is None or os.getpid() != self._pid:
            return
        try:
            if _same_file(self._fd, self.path):
                self.path.unlink()  # while still locked: no one can have taken it meanwhile
        finally:
            os.close(self._fd)
            self._fd = None


_held: dict[Path, RunLock] = {}  # the folders this process holds


def hold(folder: str | Path) -> bool:
    """Lock `folder` for this process unless it already holds it; True when newly taken. The lock
    is released by `release`, or at the latest when the process exits."""
    key = Path(folder).resolve()
    if key in _held or is_child_rank():  # a data-parallel rank > 0 runs under rank 0's lock
        return False
    lock = RunLock(key)
    lock.acquire()
    _held[key] = lock
    atexit.register(lock.release)
    return True


def release(folder: str | Path) -> None:
    if (lock := _held.pop(Path(folder).resolve(), None)) is not None:
        lock.release()


@contextmanager
def held(folder: str | Path) -> Iterator[None]:
    """`folder` locked for the block (left as it is if this process held it already)."""
    taken = hold(folder)
    try:
        yield
    finally:
        if taken:
            release(folder)


class RunLockCallback(Callback):
    """Hydra callback: a run's folder (a sweep's folder) is locked before anything is written to
    it; a live owner is one logged line and exit status 1."""

    def on_run_start(self, config, **kwargs: Any) -> None:
        _hold_or_exit(config.hydra.run.dir)

    def on_run_end(self, config, **kwargs: Any) -> None:
        release(config.hydra.run.dir)

    def on_multirun_start(self, config, **kwargs: Any) -> None:
        _hold_or_exit(config.hydra.sweep.dir)

    def on_multirun_end(self, config, **kwargs: Any) -> None:
        release(config.hydra.sweep.dir)


def _hold_or_exit(folder: str) -> None:
    """A folder another run holds, or one that cannot be made or written (a full disk): one line,
    exit status 1, and a folder made for this run removed again."""
    existed = Path(folder).exists()
    try:
        hold(folder)
    except RunLocked as err:
        log.error("%s", err)
        sys.exit(1)
    except OSError as err:
        if (line := storage_error(err, err.filename or Path(folder) / LOCK_FILE)) is None:
            raise
        if not existed:
            remove_if_empty(Path(folder))
        log.error("%s", line)
        sys.exit(1)


def remove_if_empty(*folders: Path) -> None:
    """Each folder, in order, removed if it is empty (else, or if gone, left as it is)."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _owner(fd: int) -> dict[str, Any] | None:
    try:
        return json.loads(os.pread(fd, 4096, 0) or b"null")
    except ValueError:
        return None


def _describe(owner: dict[str, Any] | None) -> str:
    if not isinstance(owner, dict):
        return "a process that has not said who it is yet"
    return f"pid {owner.get('pid')} on {owner.get('host')}, since {owner.get('started')}"


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False
