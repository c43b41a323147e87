"""The run's Trainer, with its callbacks and loggers as configured, and what every run needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.utils import get_class, instantiate
from lightning.pytorch.callbacks import Checkpoint, ProgressBar
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from lightning.pytorch.plugins.environments import SLURMEnvironment
from omegaconf import DictConfig

from experiments.job import Job
from experiments.loop import chunking
from experiments.output.hparams import run_name
from experiments.output.tensorboard import HParamsLogger
from experiments.run.callbacks import StepProgressBar
from experiments.run.checkpoints import AtomicCheckpointIO


def cluster_plugins() -> list:
    """On SLURM, submitit owns signals and requeueing: Lightning's own auto-requeue stays off."""
    return [SLURMEnvironment(auto_requeue=False)] if SLURMEnvironment.detect() else []


def tensorboard_version(job: Job) -> str:
    """The job's TensorBoard run: in a sweep its overrides, varied ones first
    (`lr=0.1,max_steps=1000`); in a single run "" (events straight under tensorboard/)."""
    return (run_name(*job.sweep) or "defaults") if job.multirun else ""


def make_loggers(cfg: DictConfig, job: Job) -> list[Logger]:
    """The loggers `cfg.logger` names (`conf/logger/`: a dict of named logger configs; none
    under `logger=none` or `~logger`). A TensorBoard logger left at `version: null` is named by
    the job (`tensorboard_version`); ours also learns the sweep's varied keys."""
    configs = cfg.get("logger") or {}
    loggers = []
    for logger in [configs] if "_target_" in configs else configs.values():  # one, or named
        cls, extra = get_class(logger._target_), {}
        if issubclass(cls, TensorBoardLogger) and logger.get("version") is None:
            extra["version"] = tensorboard_version(job)
        if issubclass(cls, HParamsLogger):
            extra["varied"] = sorted(job.varied)
        loggers.append(instantiate(logger, **extra))
    return loggers


def make_callbacks(cfg: DictConfig, job: Job) -> tuple[list, dict[str, bool]]:
    """The configured callbacks, as `trainer.enable_checkpointing`, `enable_progress_bar` and
    `fast_dev_run` leave them, and those two switches for the Trainer (`switched`); in a sweep no
    progress bar shows (a job's console is one line)."""
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values()]
    callbacks, switches = switched(callbacks, cfg.trainer, cfg.trainer.max_steps)
    for callback in callbacks:
        if job.multirun and isinstance(callback, ProgressBar):
            callback.disable()
    return callbacks, switches


def switched(callbacks: list, trainer: DictConfig, steps: int) -> tuple[list, dict[str, bool]]:
    """Lightning adds a checkpoint and a progress bar of its own where none is configured (its
    checkpoint under tensorboard/, its bar even into a pipe). Here each is on when configured
    (null), off with everything of its kind (false), or on with Lightning's default checkpoint or
    our step bar, shown even off a terminal (true). A smoke run (`fast_dev_run`) keeps only the
    progress bar: nothing it writes may look like a result."""
    if smoke := bool(trainer.get("fast_dev_run")):
        callbacks = [c for c in callbacks if isinstance(c, ProgressBar)]
    checkpointing = False if smoke else trainer.get("enable_checkpointing")
    if checkpointing is False:
        callbacks = [c for c in callbacks if not isinstance(c, Checkpoint)]
    bar = trainer.get("enable_progress_bar")
    if bar is False:
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    bars = [c for c in callbacks if isinstance(c, ProgressBar)]
    if bar is True:
        if not bars:
            bars = [StepProgressBar(refresh_rate=max(1, steps // 50))]
            callbacks.append(bars[0])
        for each in bars:
            each.enable()
    if checkpointing is None:
        checkpointing = any(isinstance(c, Checkpoint) for c in callbacks)
    return callbacks, {"enable_checkpointing": checkpointing, "enable_progress_bar": bool(bars)}


def make_trainer(
    cfg: DictConfig, output_dir: Path, extra_callbacks: list, chunk: int = 1, job: Job | None = None
) -> Any:
    """The configured Trainer, loggers and callbacks, plus what every run needs whatever the
    config: atomic checkpoint writes, SLURM-safe signals, `chunk` updates per batch (`chunking`)
    and `extra_callbacks`. A smoke run (`fast_dev_run`) logs nowhere."""
    job = job or Job()
    callbacks, switches = make_callbacks(cfg, job)
    loggers = [] if cfg.trainer.get("fast_dev_run") else make_loggers(cfg, job)
    return instantiate(
        cfg.trainer,
        _convert_="partial",  # plain dicts and lists: Lightning reads max_time={hours: 1} as one
        logger=loggers or False,
        callbacks=[*callbacks, *extra_callbacks],
        default_root_dir=output_dir,
        plugins=[AtomicCheckpointIO(), *cluster_plugins()],
        use_distributed_sampler=False,  # data-parallel: data_parallel.shard splits each batch
        **switches,
        **chunking.trainer_intervals(cfg, chunk),
    )
