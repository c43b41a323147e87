"""A vectorized population's grid points written as ordinary job folders.

Each grid point (learning rate, seed, iteration count) gets `<sweep>/<job>/` with what an ordinary
job of the basic sweeper leaves: `.hydra/config.yaml` and `overrides.yaml`, `metrics.json`,
`weights.pth` and a TensorBoard run with the same curves (`train/loss` at each logging step,
validation at each validation step, HParams at the end), through the same `finish_run`. With
thousands of grid points the writing is spread over the machine's cores, and a progress line
is logged as it goes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from experiments.atomic import one_sync_at_the_end, write_bytes_atomic
from experiments.errors import DivergedError
from experiments.output.event_file import EventFileRun
from experiments.run.results import finish_run, hparams_of, write_metrics
from experiments.sweeps.curves import save_population

log = logging.getLogger(__name__)


@dataclass
class Member:
    """One (lr, seed) network, and the grid points (job number, steps, overrides) it answers."""

    lr: float
    seed: int
    jobs: list[dict[str, Any]] = field(default_factory=list)


def member_cfg(cfg: DictConfig, lr: float, seed: int, steps: int) -> DictConfig:
    """The config an ordinary job of this grid point composes."""
    return OmegaConf.merge(
        cfg, {"model": {"lr": lr}, "seed": seed, "trainer": {"max_steps": steps}}
    )


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
    job_dir.mkdir(exist_ok=True)  # the sweep folder is there: no search up for missing parents
    (job_dir / ".hydra").mkdir(exist_ok=True)
    overrides = _yaml(list(job["overrides"])).encode()
    write_bytes_atomic(job_dir / ".hydra" / "overrides.yaml", overrides)
    return job_dir


@dataclass
class ConfigTemplate:
    """Every grid point's `.hydra/config.yaml` from one dump of the first's, with a marker where
    each value that differs between grid points goes (dumping a whole config costs ~1 ms)."""

    text: str
    KEYS = (("model", "lr"), ("trainer", "max_steps"), ("seed",), ("output_dir",))

    @classmethod
    def of(cls, config: dict[str, Any]) -> ConfigTemplate:
        marked = {**config, "model": dict(config["model"]), "trainer": dict(config["trainer"])}
        for *parents, key in cls.KEYS:
            node = marked[parents[0]] if parents else marked
            node[key] = f"VALUE_OF_{key}_HERE"
        text = _yaml(marked)
        assert all(text.count(f"VALUE_OF_{k[-1]}_HERE") == 1 for k in cls.KEYS), text
        return cls(text)

    def render(self, **values: Any) -> str:
        """The YAML with `values` (lr, max_steps, seed, output_dir), each dumped as a scalar."""
        text = self.text
        for key, value in values.items():
            scalar = _yaml(value).removesuffix("...\n").strip()
            text = text.replace(f"VALUE_OF_{key}_HERE", scalar)
        return text


@dataclass
class JobRecord:
    """Everything one grid point's folder holds, ready to write."""

    job: dict[str, Any]
    config: ConfigTemplate
    values: dict[str, Any]  # what `config` lacks: lr, max_steps, seed, output_dir
    hparams: dict[str, Any]
    varied: set[str]
    status: str
    error: str | None
    steps: int
    seconds: float
    train_loss: list[tuple[int, float]]
    validation: list[tuple[int, dict[str, float]]]
    metrics: dict[str, Any]
    weights: dict | None


def member_hparams(base: dict[str, Any], lr: float, seed: int, steps: int) -> dict[str, Any]:
    """`base` (the first grid point's HParams row) with this grid point's batched values."""
    values = {"model.lr": lr, "lr": lr, "seed": seed, "trainer.max_steps": steps}
    values["max_steps"] = steps
    return {k: values.get(k.lstrip("+~"), v) for k, v in base.items()}


@dataclass
class JobRecords:
    """What every grid point's `JobRecord` is made from, prepared once before the writers fork:
    the shared config template and HParams row, and the recorder's numbers as plain lists
    (indexing a list per number is far cheaper than indexing a tensor)."""

    plan: dict[str, Any]
    members: list[Member]
    varied: set[str]
    base_hparams: dict[str, Any]
    config: ConfigTemplate
    intervals: dict[int, tuple[int, int]]
    losses: dict[int, list[float]]
    evaluations: dict[int, dict[str, list]]
    weights: dict[int, dict[str, Any]]
    seconds: dict[int, float]
    diverged_at: dict[int, tuple[int, float]]

    @classmethod
    def prepare(cls, cfg, plan, members, recorder, diverged_at, choices) -> JobRecords:
        from experiments.output.hparams import varied_keys
        from experiments.sweeps import plan as sweep_plan

        first = members[0].jobs[0]
        varied = varied_keys(sweep_plan.jobs(plan["sweep_dir"]))
        varied = varied or {o.partition("=")[0] for o in first["overrides"]}
        first_cfg = member_cfg(cfg, members[0].lr, members[0].seed, first["steps"])
        return cls(
            plan,
            members,
            varied,
            hparams_of(first_cfg, choices, (first["overrides"], varied)),
            ConfigTemplate.of(OmegaConf.to_container(first_cfg)),
            {s: _intervals(cfg, s) for s in {job["steps"] for job in plan["jobs"]}},
            {k: v.tolist() for k, v in recorder.train_loss.items()},
            {k: {n: v.tolist() for n, v in e.items()} for k, e in recorder.evaluations.items()},
            recorder.weights,
            recorder.seconds,
            diverged_at,
        )

    def of_member(self, m: int) -> list[JobRecord]:
        """The records of member m's grid points."""
        member, records = self.members[m], []
        for job in member.jobs:
            steps = job["steps"]
            val, every = self.intervals[steps]
            output_dir = str(Path(self.plan["sweep_dir"]) / str(job["job"]))
            values = dict(lr=member.lr, max_steps=steps, seed=member.seed, output_dir=output_dir)
            hparams = member_hparams(self.base_hparams, member.lr, member.seed, steps)
            train_loss = [(k, self.losses[k][m]) for k in range(every, steps + 1, every)]
            validation = [
                (k, {n: v[m] for n, v in self.evaluations[k].items() if n.startswith("val/")})
                for k in range(val, steps + 1, val)
            ]
            metrics = {n: v[m] for n, v in self.evaluations[steps].items()}
            metrics["train/loss"] = train_loss[-1][1]
            weights = {n: w[m].clone() for n, w in self.weights[steps].items()}
            status, error, done = "completed", None, steps
            if (diverged := self.diverged_at.get(m)) is not None and diverged[0] < steps:
                status, error, done = "diverged", str(DivergedError(*diverged)), diverged[0]
                metrics, weights, validation, train_loss = {}, None, [], []
            records.append(
                JobRecord(
                    job,
                    self.config,
                    values,
                    hparams,
                    self.varied,
                    status,
                    error,
                    done,
                    self.seconds.get(steps, 0.0),
                    train_loss,
                    validation,
                    metrics,
                    weights,
                )
            )
        return records


def _yaml(value: Any) -> str:
    """YAML as `yaml.safe_dump` writes it, through libyaml when present (~10x faster)."""
    return yaml.dump(value, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False)


def write_job(sweep_dir: Path, record: JobRecord) -> None:
    """One grid point's folder, as an ordinary job of the same overrides writes it."""
    job_dir = job_folder(sweep_dir, record.job)
    config = record.config.render(**record.values).encode()
    write_bytes_atomic(job_dir / ".hydra" / "config.yaml", config)
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
    run = EventFileRun(
        job_dir / "tensorboard" / record.job["run_name"], record.varied, record.job["job"]
    )
    scalars: dict[int, dict[str, float]] = {}  # step -> everything logged at it, one event each
    for step, loss in record.train_loss:
        scalars.setdefault(step, {})["train/loss"] = loss
    for step, values in record.validation:
        scalars.setdefault(step, {}).update(values)
    for step in sorted(scalars):
        run.log_metrics(scalars[step], step)
    finish_run(job_dir, result, record.weights, run, record.hparams)


_PENDING: JobRecords | None = None  # what forked writers inherit


def _write_slice(args: tuple[str, int, int]) -> int:
    """The folders of every `step`-th member from `start`; the first writer logs its progress."""
    sweep_dir, start, step = args
    records = _PENDING
    mine = range(start, len(records.members), step)
    every = max(1, len(mine) // 10)
    jobs = sum(len(member.jobs) for member in records.members)
    written, curves = 0, []
    with one_sync_at_the_end():
        for i, m in enumerate(mine, 1):
            for record in records.of_member(m):
                write_job(Path(sweep_dir), record)
                written += 1
                curves.append((record.job["job"], population_curves(record)))
            if start == 0 and i % every == 0 and i < len(mine):
                log.info("job folders: about %d of %d written", written * step, jobs)
        first = records.members[start].jobs[0]["job"] if mine else start
        save_population(Path(sweep_dir), f"{first}-{start}", curves)  # the report's curves
    return written


def population_curves(record: JobRecord) -> dict[str, list[tuple[int, float]]]:
    """A grid point's logged `train/loss` and `val/loss`, as the report's curves take them."""
    val = [(step, values["val/loss"]) for step, values in record.validation if "val/loss" in values]
    return {"train/loss": record.train_loss, "val/loss": val}


def _usual_signals() -> None:
    """A writer stops on SIGINT/SIGTERM as any process does: it inherits the run's own handlers
    (checkpoint at the next step, or the start-up line), which would leave it running."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def write_jobs(cfg, plan, members, recorder, diverged_at, choices) -> None:
    """Every grid point's folder; on several cores when there are many."""
    global _PENDING
    started = time.perf_counter()
    _PENDING = JobRecords.prepare(cfg, plan, members, recorder, diverged_at, choices)
    sweep_dir = plan["sweep_dir"]
    jobs = sum(len(member.jobs) for member in members)
    workers = min(os.cpu_count() or 1, max(1, jobs // 64), len(members))
    if workers == 1:
        _write_slice((sweep_dir, 0, 1))
    else:  # fork: the writers inherit the numbers instead of receiving them pickled
        pool = multiprocessing.get_context("fork").Pool(workers, initializer=_usual_signals)
        try:
            pool.map(_write_slice, [(sweep_dir, i, workers) for i in range(workers)])
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
    _PENDING = None
    log.info(
        "wrote %d job folders in %.1f s (%d process%s)",
        jobs,
        time.perf_counter() - started,
        workers,
        "es" if workers > 1 else "",
    )
