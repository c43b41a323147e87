"""Our TensorBoard logger: Lightning's, with the HParams record this project shows, and one
event file per run."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import Logger, TensorBoardLogger

from experiments.output.event_file import trim_to_whole_records
from experiments.output.hparams import hparams_summaries, shown_params


class HParamsLogger(TensorBoardLogger):
    """TensorBoardLogger whose HParams record marks the sweep's varied keys (`varied`, set by the
    run from its `Job`) as differing and lists them, then the headline metrics, first."""

    def __init__(self, *args: Any, varied: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.varied = set(varied)

    def log_hyperparams(self, params, metrics=None, step=None) -> None:
        params = shown_params(dict(params))
        self.hparams.update(params)
        if not metrics:
            return
        self.log_metrics(metrics, step)
        writer = self.experiment._get_file_writer()
        for summary in hparams_summaries(params, list(metrics), self.varied):
            writer.add_summary(summary, step)

    def finalize(self, status: str) -> None:
        """Flush, keeping the run's one event file open. Lightning finalizes after fit, validate
        and test; closing there would make torch's SummaryWriter start a new file for what comes
        next, and files named in the same second sort by a counter read as text (`.100` before
        `.99`): TensorBoard would read the final steps first and drop them as out of order."""
        if self._experiment is not None:
            self.experiment.flush()
        if status == "success":
            self.save()

    def end_run(self, status: str) -> None:
        """Close the event file: the run is over (`finish_run`). A write that failed (a full disk)
        leaves the file's whole records only."""
        try:
            super().finalize(status)
        except OSError:
            trim_to_whole_records(Path(self.log_dir))
            raise


def tensorboard_loggers(loggers: Iterable[Logger]) -> list[TensorBoardLogger]:
    """The TensorBoard loggers among a trainer's loggers (ours or Lightning's own)."""
    return [logger for logger in loggers if isinstance(logger, TensorBoardLogger)]


def scalar_steps(log_dir: Path) -> dict[str, set[int]]:
    """Per scalar tag, the steps at which TensorBoard shows it from the event files under
    `log_dir` (less what a resumed run's marker hides); empty when there are none."""
    from tensorboard.backend.event_processing.event_accumulator import (
        SCALARS,
        EventAccumulator,
    )

    if not any(Path(log_dir).glob("events.out.tfevents.*")):
        return {}
    events = EventAccumulator(str(log_dir), size_guidance={SCALARS: 0})
    events.Reload()
    return {tag: {event.step for event in events.Scalars(tag)} for tag in events.Tags()[SCALARS]}
