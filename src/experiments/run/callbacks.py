"""Callbacks the configs name in `conf/callbacks/`."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback, TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm

from experiments.errors import RunInterrupted
from experiments.output.console import quiet_lightning, stdout_is_terminal
from experiments.output.tensorboard import tensorboard_loggers
from experiments.run.lesson_figures import tensorboard_writer
from experiments.run.record import without_x_axis
from experiments.run.resume import RUN_STATE_KEY

quiet_lightning()  # Lightning's own console handler, beside Hydra's, would print everything twice


class StepProgressBar(TQDMProgressBar):
    """One bar counting optimizer steps towards `trainer.max_steps` (the epoch itself is endless).

    Validation and test are a single full batch, so they get no bar of their own: their metrics
    show in the training bar's postfix and in the final log line. Shown only on a terminal, and
    never in a sweep's jobs (their console is one line each: the run's trainer turns it off).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not stdout_is_terminal():
            self.disable()

    def get_metrics(self, trainer: L.Trainer, pl_module) -> dict:
        metrics = without_x_axis(super().get_metrics(trainer, pl_module))
        metrics.pop("v_num", None)  # the logger's version: not a metric
        return metrics

    def init_train_tqdm(self) -> Tqdm:
        """The bar `on_train_start` makes: from the step training starts at (a resumed run's
        checkpoint) to `max_steps`, so a resumed run, which Lightning restarts inside its epoch
        without `on_train_epoch_start`, shows its total too."""
        return Tqdm(
            desc="Training",
            total=self.trainer.max_steps,
            initial=self.trainer.global_step,
            position=2 * self.process_position,
            disable=self.is_disabled,
            leave=True,
            dynamic_ncols=True,
            file=sys.stdout,
            smoothing=0,
            bar_format=self.BAR_FORMAT,
        )

    def on_train_epoch_start(self, trainer: L.Trainer, *args) -> None:
        """One endless epoch: the bar stays as `init_train_tqdm` made it (Lightning's would
        count batches of an epoch of unknown length: `0/?`)."""

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        # Counted in optimizer steps, not batches: a batch holds several updates.
        bar, step = self.train_progress_bar, trainer.global_step
        if self.is_enabled and (step - bar.n >= self.refresh_rate or step == bar.total):
            bar.n = step
            bar.set_postfix(self.get_metrics(trainer, pl_module))  # refreshes the bar

    def init_validation_tqdm(self) -> Tqdm:
        return Tqdm(disable=True)

    def init_test_tqdm(self) -> Tqdm:
        return Tqdm(disable=True)


class ParameterHistograms(Callback):
    """Weights and gradients of every layer, as TensorBoard histograms, every N steps.

    `on_before_optimizer_step` runs for both models (Lightning calls it around the hand-written
    backward too), when the gradients of this step are in `.grad` and not yet applied.
    """

    def __init__(self, every_n_steps: int = 10, bins: int = 30) -> None:
        self.every_n_steps = max(1, every_n_steps)
        self.bins = bins  # TensorBoard shows 30; its own default, ~1,500 edges, costs 7x more

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module, optimizer) -> None:
        step = trainer.global_step
        if step % self.every_n_steps or (writer := tensorboard_writer(trainer)) is None:
            return
        for name, param in pl_module.net.named_parameters():
            _histogram(writer, f"weights/{name}", param.detach(), step, self.bins)
            if param.grad is not None:
                _histogram(writer, f"gradients/{name}", param.grad, step, self.bins)

    def on_train_end(self, trainer: L.Trainer, pl_module) -> None:
        """The final weights, at the last step: the trained network is the last histogram."""
        if (writer := tensorboard_writer(trainer)) is not None and trainer.is_global_zero:
            for name, param in pl_module.net.named_parameters():
                step = trainer.global_step
                _histogram(writer, f"weights/{name}", param.detach(), step, self.bins)


HISTOGRAM_LIMIT = 1e20  # TensorBoard's histogram buckets end here; beyond, it raises


def _histogram(writer, tag: str, values, step: int, bins: int) -> None:
    """A histogram of `values`, unless TensorBoard cannot bin them: a value beyond +-1e20, or
    not finite (a run on its way to diverging, which the run itself reports)."""
    if bool(values.isfinite().all()) and float(values.abs().max()) < HISTOGRAM_LIMIT:
        try:
            writer.add_histogram(tag, values, step, bins=bins)
        except ValueError:  # numpy: a range too wide for `bins` finite-sized bins
            return


class GracefulInterrupt(Callback):
    """Ctrl+C (SIGINT), SIGTERM, or SIGUSR2 (submitit's warning before a SLURM time limit or a
    preemption) during training: finish the current step, write `checkpoints/last.ckpt` at that
    step, and stop. `train()` then records `interrupted`; for SIGUSR2 in a submitit job `cli` then
    hands over to submitit, which requeues the job (see `experiments.run.resume`).

    The signals only set a flag: the checkpoint is taken between two steps, never in the middle
    of an update, so resuming from it reproduces the uninterrupted run exactly. While training,
    these handlers stand in for any others (submitit's among them); they are put back after.

    Every checkpoint records the run's overrides (`state_dict`), so a run started into a folder
    holding an unfinished run can tell whether that run is its own. A resumed run hides, in
    TensorBoard, what an earlier attempt logged after the checkpoint it resumes from (a
    `SessionLog.START` event, as `SummaryWriter(purge_step=...)` writes), so no step shows twice.
    """

    SIGNALS = tuple(
        getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGUSR2") if hasattr(signal, name)
    )

    def __init__(self, overrides: list[str] | None = None) -> None:
        self.overrides = overrides  # the run's (`Job.run_overrides`)
        self.received: str | None = None
        self.checkpoint: Path | None = None
        self._previous: dict = {}

    @property
    def state_key(self) -> str:
        return RUN_STATE_KEY

    def state_dict(self) -> dict:
        return {"overrides": self.overrides}

    def raise_if_received(self, trainer: L.Trainer) -> None:
        """After fit: a signal stopped it; the run ends `interrupted`."""
        if self.received:
            raise RunInterrupted(
                f"{self.received} at step {trainer.global_step}: continue with "
                f"ckpt_path={self.checkpoint}",
                signal=self.received,
            )

    def _request_stop(self, signum: int, frame) -> None:
        self.received = signal.Signals(signum).name

    def setup(self, trainer: L.Trainer, pl_module, stage: str) -> None:
        """The model in the trainer's precision before Lightning restores a checkpoint into it
        (Lightning converts it only after): float64 weights loaded into float32 parameters would
        be rounded, and a resumed float64 run would part from the uninterrupted one by ~1e-7."""
        trainer.precision_plugin.convert_module(pl_module)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module, checkpoint: dict) -> None:
        """Before any checkpoint reaches the disk, what was logged so far does: a run killed just
        after a checkpoint and resumed from it hides only the steps after it, so the event files
        must already hold the steps up to it (the writer would keep up to 10 in memory)."""
        if trainer.is_global_zero:
            for logger in tensorboard_loggers(trainer.loggers):
                logger.experiment.flush()

    def on_train_start(self, trainer: L.Trainer, pl_module) -> None:
        self._previous = {s: signal.signal(s, self._request_stop) for s in self.SIGNALS}
        _hide_later_steps(trainer)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        """A signal came: checkpoint this step and stop. Lightning validates a run that stops
        early at that step, off the `val_check_interval` schedule; that would name the best
        checkpoint after a step the schedule never validates, and a resumed run would not match
        the uninterrupted one, so validation is switched off for what is left of this fit."""
        if self.received and not trainer.should_stop:
            self.checkpoint = Path(trainer.default_root_dir) / "checkpoints" / "last.ckpt"
            trainer.save_checkpoint(self.checkpoint, weights_only=False)  # said: no log line
            trainer.limit_val_batches = 0
            trainer.should_stop = True

    def on_train_end(self, trainer: L.Trainer, pl_module) -> None:
        self._restore()

    def on_exception(self, trainer: L.Trainer, pl_module, exception: BaseException) -> None:
        self._restore()

    def _restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}


def _hide_later_steps(trainer: L.Trainer) -> None:
    """A resumed run, or one started over in a folder that holds earlier TensorBoard events, hides
    what was logged past the step it starts from (everything, when it starts over)."""
    if not trainer.is_global_zero:
        return
    for logger in tensorboard_loggers(trainer.loggers):
        if trainer.global_step or any(Path(logger.log_dir).glob("events.out.tfevents.*")):
            from tensorboard.compat.proto.event_pb2 import Event, SessionLog

            step = trainer.global_step + 1 if trainer.global_step else 0
            start = Event(step=step, session_log=SessionLog(status=SessionLog.START))
            logger.experiment._get_file_writer().add_event(start)
