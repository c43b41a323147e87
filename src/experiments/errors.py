"""Errors that carry a one-line message telling the user what to do."""

from __future__ import annotations


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
    """SIGINT or SIGTERM stopped training; a checkpoint was written at that step."""


class DivergedError(ExperimentError):
    """The training loss became NaN or infinite."""

    def __init__(self, step: int, loss: float) -> None:
        self.step = step
        super().__init__(f"training diverged at step {step} (loss = {loss}): try a lower model.lr")
