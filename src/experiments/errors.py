"""Errors that carry a one-line message telling the user what to do."""

from __future__ import annotations


class ExperimentError(Exception):
    """Base of the errors a user can fix; the CLI prints the message alone, no traceback."""


class ConfigError(ExperimentError):
    """A config value is out of range, unknown, or asks for something this machine lacks."""


class DataError(ExperimentError):
    """A data file is missing or malformed."""


class DivergedError(ExperimentError):
    """The training loss became NaN or infinite."""

    def __init__(self, step: int, loss: float) -> None:
        self.step = step
        super().__init__(f"training diverged at step {step} (loss = {loss}): try a lower model.lr")
