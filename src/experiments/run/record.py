"""A run's record as it goes: its final metrics, and what stopped it (`RunRecord.recording`),
turned into metrics.json, weights.pth and the loggers' last words at the end (`finish_run`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from experiments.errors import DivergedError, ParityError, RunInterrupted
from experiments.job import Job
from experiments.output.console import number
from experiments.run.results import finish_run, hparams_of

log = logging.getLogger(__name__)

X_AXIS = "step"  # logged beside each metric as TensorBoard's x-axis (`LessonModule.log_at_step`)


def without_x_axis(metrics: dict[str, Any]) -> dict[str, Any]:
    """Logged metrics less the x-axis, which is not a metric."""
    return {name: value for name, value in metrics.items() if name != X_AXIS}


class RunRecord:
    """What metrics.json will hold. Until `completed`, the run counts as failed."""

    def __init__(self, cfg: DictConfig, job: Job, checkpoint: dict | None) -> None:
        self.cfg, self.job = cfg, job
        self.folder = Path(cfg.output_dir)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.start_step = checkpoint["global_step"] if checkpoint is not None else 0
        self.resumed_from_step = self.start_step if checkpoint is not None and cfg.train else None
        self.status, self.error, self.diverged_at = "failed", None, None
        self.metrics: dict[str, Any] = {}
        self.extra: dict[str, Any] = {}
        self.weights: dict | None = None
        self.started = time.perf_counter()

    def add(self, metrics: dict[str, Any], **tables: Any) -> None:
        """The trainer's callback metrics (as floats) and the model's tables, after each stage."""
        self.metrics.update({k: float(v) for k, v in without_x_axis(metrics).items()}, **tables)

    def completed(self, weights: dict, **extra: Any) -> None:
        self.status, self.weights = "completed", weights
        self.extra.update(extra)

    def failed(self, err: Exception) -> None:
        """What stopped the run: diverged, interrupted, or failed (with the error's type)."""
        if isinstance(err, DivergedError):
            self.status, self.error = "diverged", str(err)
        elif isinstance(err, RunInterrupted):
            self.status, self.error = "interrupted", str(err)
        else:
            self.error = f"{type(err).__name__}: {err}"
        # the step whose loss was not finite (or, compare=true, where the models parted): the
        # later updates of its chunk don't count
        if isinstance(err, (DivergedError, ParityError)):
            self.diverged_at = err.step

    @contextmanager
    def recording(self, trainer) -> Iterator[None]:
        """From here metrics.json is written whatever happens; an error is re-raised after it."""
        try:
            yield
        except Exception as err:
            self.failed(err)
            raise
        finally:
            self.record = self.finish(trainer)

    def finish(self, trainer) -> dict[str, Any]:
        steps = trainer.global_step if self.cfg.train else self.start_step
        steps = self.diverged_at if self.diverged_at is not None else steps
        record = dict(status=self.status, error=self.error, steps=steps, metrics=self.metrics)
        record.update(seconds=time.perf_counter() - self.started, **self.extra)
        record["resumed_from_step"] = self.resumed_from_step
        if smoke := self.cfg.trainer.get("fast_dev_run"):
            log.info(
                "trainer.fast_dev_run=%s: a smoke run (%s, validation and test once each) that "
                "wrote no results: no metrics.json, checkpoint, weights.pth or TensorBoard events",
                str(smoke).lower(),
                f"{steps} step{'s' if steps != 1 else ''}",
            )
            return record
        if trainer.is_global_zero:  # data-parallel: one set of files, from rank 0
            hparams = hparams_of(self.cfg, self.job.choices, self.job.sweep)
            record = finish_run(self.folder, record, self.weights, trainer.loggers, hparams)
        log.info("%s after %d steps: %s", self.status, steps, _summary(self.metrics))
        return record


def _summary(metrics: dict[str, Any]) -> str:
    """Confusion counts as integers: `test/tn 27`."""
    numbers = sorted((k, v) for k, v in metrics.items() if isinstance(v, float))
    return ", ".join(f"{k} {number(v)}" for k, v in numbers) or "no metrics"
