"""The run's Trainer, with its callbacks and loggers as configured, and what every run needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.utils import get_class, instantiate
from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from lightning.pytorch.plugins.environments import SLURMEnvironment
from omegaconf import DictConfig

from experiments.job import Job
from experiments.loop import chunking
from experiments.output.hparams import run_name
from experiments.output.tensorboard import HParamsLogger
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


def make_callbacks(cfg: DictConfig, job: Job) -> list:
    """The configured callbacks; in a sweep no progress bar shows (a job's console is one line)."""
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values()]
    for callback in callbacks:
        if job.multirun and isinstance(callback, ProgressBar):
            callback.disable()
    return callbacks


def make_trainer(
    cfg: DictConfig, output_dir: Path, extra_callbacks: list, chunk: int = 1, job: Job | None = None
) -> Any:
    """The configured Trainer, loggers and callbacks, plus what every run needs whatever the
    config: atomic checkpoint writes, SLURM-safe signals, `chunk` updates per batch (`chunking`)
    and `extra_callbacks`."""
    job = job or Job()
    return instantiate(
        cfg.trainer,
        logger=make_loggers(cfg, job) or False,
        callbacks=[*make_callbacks(cfg, job), *extra_callbacks],
        default_root_dir=output_dir,
        plugins=[AtomicCheckpointIO(), *cluster_plugins()],
        use_distributed_sampler=False,  # data-parallel: data_parallel.shard splits each batch
        **chunking.trainer_intervals(cfg, chunk),
    )
