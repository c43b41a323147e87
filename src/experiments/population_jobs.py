"""A vectorized population's grid points written as ordinary job folders.

Each grid point (learning rate, seed, iteration count) gets `<sweep>/<job>/` with what an ordinary
job of the basic sweeper leaves: `.hydra/config.yaml` and `overrides.yaml`, `metrics.json`,
`weights.pth` and a TensorBoard run with the same curves (`train/loss` at each logging step,
validation at each validation step, HParams at the end), through the same `finish_run`. With
thousands of grid points the writing is spread over the machine's cores, and a progress line
is logged as it goes.
"""

from __future__ import annotations

import copy
import logging
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf, open_dict

from experiments.atomic import one_sync_at_the_end
from experiments.errors import DivergedError
from experiments.results import finish_run, hparams_of, write_metrics

log = logging.getLogger(__name__)


@dataclass
class Member:
    """One (lr, seed) network, and the grid points (job number, steps, overrides) it answers."""

    lr: float
    seed: int
    jobs: list[dict[str, Any]] = field(default_factory=list)


def member_cfg(cfg: DictConfig, lr: float, seed: int, steps: int) -> DictConfig:
    """The config an ordinary job of this grid point composes."""
    member = OmegaConf.merge(
        cfg, {"model": {"lr": lr}, "seed": seed, "trainer": {"max_steps": steps}}
    )
    with open_dict(member):
        member.pop("population_plan", None)
    return member


def _intervals(cfg: DictConfig, steps: int) -> tuple[int, int]:
    """(validation, logging) intervals of an ordinary run of `steps` steps."""
    trainer = member_cfg(cfg, cfg.model.lr, cfg.seed, steps).trainer
    return int(trainer.val_check_interval), int(trainer.log_every_n_steps)


def job_schedule(cfg: DictConfig, plan: dict[str, Any]) -> dict[str, set[int]]:
    """The steps the population must record: every grid point's logging steps (`log`),
    validation steps (`val`, the end included, as the final validation) and end (`test`)."""
    schedule: dict[str, set[int]] = {"log": set(), "val": set(), "test": set()}
    for steps in {job["steps"] for job in plan["jobs"]}:
        val, every = _intervals(cfg, steps)
        schedule["log"].update(range(every, steps + 1, every))
        schedule["val"].update([*range(val, steps + 1, val), steps])
        schedule["test"].add(steps)
    return schedule


def job_folder(sweep_dir: Path, job: dict[str, Any]) -> Path:
    """`<sweep>/<job>/` with its `.hydra/overrides.yaml`, as the basic sweeper leaves it."""
    job_dir = sweep_dir / str(job["job"])
    (job_dir / ".hydra").mkdir(parents=True, exist_ok=True)
    (job_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(list(job["overrides"])))
    return job_dir


@dataclass
class JobRecord:
    """Everything one grid point's folder holds, ready to write."""

    job: dict[str, Any]
    config: dict[str, Any]
    hparams: dict[str, Any]
    status: str
    error: str | None
    steps: int
    seconds: float
    train_loss: list[tuple[int, float]]
    validation: list[tuple[int, dict[str, float]]]
    metrics: dict[str, Any]
    weights: dict | None


def job_records(cfg, plan, members, recorder, diverged_at, choices) -> list[JobRecord]:
    """One `JobRecord` per grid point, from the recorder's stacked numbers."""
    unresolved = OmegaConf.to_container(member_cfg(cfg, cfg.model.lr, cfg.seed, 1))
    base_hparams = hparams_of(member_cfg(cfg, cfg.model.lr, cfg.seed, 1), choices)
    intervals = {s: _intervals(cfg, s) for s in {job["steps"] for job in plan["jobs"]}}
    # Plain lists once, indexed by member below: far cheaper than a tensor index per number.
    losses = {k: v.tolist() for k, v in recorder.train_loss.items()}
    evaluations = {
        k: {n: v.tolist() for n, v in e.items()} for k, e in recorder.evaluations.items()
    }
    records = []
    for m, member in enumerate(members):
        for job in member.jobs:
            steps = job["steps"]
            val, every = intervals[steps]
            config = copy.deepcopy(unresolved)
            config["model"]["lr"], config["seed"] = member.lr, member.seed
            config["trainer"]["max_steps"] = steps
            config["output_dir"] = str(Path(plan["sweep_dir"]) / str(job["job"]))
            hparams = {**base_hparams, "lr": member.lr, "seed": member.seed, "max_steps": steps}
            logged = list(range(every, steps + 1, every))
            train_loss = [(k, losses[k][m]) for k in logged]
            validation = [
                (k, {n: v[m] for n, v in evaluations[k].items() if n.startswith("val/")})
                for k in range(val, steps + 1, val)
            ]
            metrics = {n: v[m] for n, v in evaluations[steps].items()}
            metrics["train/loss"] = train_loss[-1][1]
            weights = {n: w[m].clone() for n, w in recorder.weights[steps].items()}
            status, error, done = "completed", None, steps
            if (diverged := diverged_at.get(m)) is not None and diverged[0] < steps:
                status, error, done = "diverged", str(DivergedError(*diverged)), diverged[0]
                metrics, weights, validation, train_loss = {}, None, [], []
            records.append(
                JobRecord(
                    job,
                    config,
                    hparams,
                    status,
                    error,
                    done,
                    recorder.seconds.get(steps, 0.0),
                    train_loss,
                    validation,
                    metrics,
                    weights,
                )
            )
    return records


def write_job(sweep_dir: Path, record: JobRecord) -> None:
    """One grid point's folder, as an ordinary job of the same overrides writes it."""
    from lightning.pytorch.loggers import TensorBoardLogger

    job_dir = job_folder(sweep_dir, record.job)
    (job_dir / ".hydra" / "config.yaml").write_text(yaml.safe_dump(record.config, sort_keys=False))
    result = dict(
        status=record.status,
        error=record.error,
        steps=record.steps,
        seconds=record.seconds,
        metrics=record.metrics,
    )
    if record.status != "completed":
        write_metrics(job_dir, **result)
        return
    logger = TensorBoardLogger(
        job_dir, name="tensorboard", version=record.job["run_name"], default_hp_metric=False
    )
    for step, loss in record.train_loss:
        logger.log_metrics({"train/loss": loss}, step)
    for step, values in record.validation:
        logger.log_metrics(values, step)
    finish_run(job_dir, result, record.weights, logger, record.hparams)


_PENDING: list[JobRecord] = []  # what forked writers inherit


def _write_slice(args: tuple[str, int, int]) -> int:
    """Every `step`-th pending record from `start`; the first writer logs its progress."""
    sweep_dir, start, step = args
    mine = _PENDING[start::step]
    every = max(1, len(mine) // 10)
    with one_sync_at_the_end():
        for i, record in enumerate(mine, 1):
            write_job(Path(sweep_dir), record)
            if start == 0 and i % every == 0 and i < len(mine):
                log.info("job folders: about %d of %d written", i * step, len(_PENDING))
    return len(mine)


def write_jobs(cfg, plan, members, recorder, diverged_at, choices) -> None:
    """Every grid point's folder; on several cores when there are many."""
    started = time.perf_counter()
    records = job_records(cfg, plan, members, recorder, diverged_at, choices)
    sweep_dir = plan["sweep_dir"]
    workers = min(os.cpu_count() or 1, max(1, len(records) // 64))
    _PENDING[:] = records
    if workers == 1:
        _write_slice((sweep_dir, 0, 1))
    else:  # fork: the writers inherit the records instead of receiving them pickled
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            pool.map(_write_slice, [(sweep_dir, i, workers) for i in range(workers)])
    _PENDING.clear()
    log.info(
        "wrote %d job folders in %.1f s (%d process%s)",
        len(records),
        time.perf_counter() - started,
        workers,
        "es" if workers > 1 else "",
    )
