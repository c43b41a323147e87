"""Errors that carry a one-line message telling the user what to do."""

from __future__ import annotations

import errno


class ExperimentError(Exception):
    """Base of the errors a user can fix; the CLI prints the message alone, no traceback."""


class ConfigError(ExperimentError):
    """A config value is out of range, unknown, or asks for something this machine lacks."""


class DataError(ExperimentError):
    """A data file is missing or malformed."""


def missing_csv(key: str, path: object) -> DataError:
    return DataError(f"{key}={path} does not exist: give the path of a CSV file")


def missing_checkpoint(path: object) -> ConfigError:
    return ConfigError(
        f"ckpt_path={path} does not exist: give a checkpoint such as "
        "outputs/runs/<run>/checkpoints/last.ckpt"
    )


class RunInterrupted(ExperimentError):
    """SIGINT, SIGTERM or SIGUSR2 stopped training; a checkpoint was written at that step.
    `signal` names the signal ("SIGUSR2": submitit's preemption / time-limit warning)."""

    def __init__(self, message: str, signal: str | None = None) -> None:
        self.signal = signal
        super().__init__(message)


class DivergedError(ExperimentError):
    """The training loss became NaN or infinite."""

    def __init__(self, step: int, loss: float) -> None:
        self.step = step
        super().__init__(f"training diverged at step {step} (loss = {loss}): try a lower model.lr")


class ParityError(ExperimentError):
    """compare=true: a gradient or weight of the scratch network and of the autograd one differ
    by more than `compare_tolerance` (see experiments.models.lockstep)."""

    def __init__(
        self, quantity: str, layer: str, value: float, tolerance: float, step: int, hint: str
    ) -> None:
        self.step = step
        super().__init__(
            f"scratch and autograd part at step {step}: the {quantity} of {layer} differs by "
            f"{value:.3g} > compare_tolerance={tolerance:g}; {hint}"
        )


class StorageError(ExperimentError):
    """A file or folder the command writes cannot be written: the disk is full, or the folder is
    not the user's to write (`storage_error`)."""


# The OSErrors a user fixes by freeing space or choosing another folder, as the line says them.
_STORAGE_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the filesystem is read-only",
}
_ELSEWHERE = "hydra.run.dir=DIR (a sweep: hydra.sweep.dir=DIR)"
_FOLDER_HINT = f"give a folder you can write with {_ELSEWHERE}"
_SPACE_HINT = f"free some space, or write elsewhere with {_ELSEWHERE}"


def storage_error(err: BaseException, path: object = None) -> StorageError | None:
    """The one line for a full disk or an unwritable folder, naming `path` (else the file `err`
    names), or None for any other error. Already a `StorageError`: itself."""
    if isinstance(err, StorageError):
        return err
    if not isinstance(err, OSError) or err.errno not in _STORAGE_REASONS:
        return None
    where = path if path is not None else err.filename
    hint = _SPACE_HINT if err.errno in (errno.ENOSPC, errno.EDQUOT) else _FOLDER_HINT
    what = f"cannot write {where}" if where is not None else "cannot write this run's files"
    return StorageError(f"{what}: {_STORAGE_REASONS[err.errno]}: {hint}")
