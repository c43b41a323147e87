"""A vectorized population's grid points as ordinary jobs: each member's config and schedule,
its grid points' folders and what they record (`JobRecords`), the config YAML rendered from one
template. `sweeps.population.writing` writes them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from experiments.atomic import write_bytes_atomic
from experiments.errors import DivergedError
from experiments.run.results import hparams_of

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
    resumed_from_step: int | None = None  # the population's checkpoint step, when it resumed
    notes: dict[str, Any] = field(default_factory=dict)  # about the data, as a run's metrics.json


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
    resumed_from: int | None = None  # the step the population resumed from, if it did
    notes: dict[str, Any] = field(default_factory=dict)  # the shared data's (`record_notes`)

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
                    self.resumed_from,
                    self.notes,
                )
            )
        return records


def _yaml(value: Any) -> str:
    """YAML as `yaml.safe_dump` writes it, through libyaml when present (~10x faster)."""
    return yaml.dump(value, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False)
