"""A callback that signals its own process once training reaches a step: an interrupt at an
exact step, in-process (`+callbacks.signal_at._target_=helpers.signals.SignalAt`)."""

from __future__ import annotations

import signal

from lightning.pytorch.callbacks import Callback


class SignalAt(Callback):
    """Raise `name` (SIGTERM by default) once, at the first batch end at or past `step`."""

    def __init__(self, step: int, name: str = "SIGTERM") -> None:
        self.step, self.signal, self.sent = step, getattr(signal, name), False

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step >= self.step and not self.sent:
            self.sent = True
            signal.raise_signal(self.signal)
