"""The vectorized sweeper's job: ordinary training with a member dimension.

Every (learning rate, seed) member of a grid trains together, one network each, stacked along a
leading member dimension (`LessonModule.stack`: the scratch layers with a member dimension, or
`torch.nn` networks vmapped), in one Lightning run of the longest iteration count. Each member
starts from the weights, and sees the batches, of the ordinary run with its seed; it is evaluated
with the task's own metrics (`Task.evaluate`) at every requested iteration count on the way (an SGD
run to 10,000 steps passes through its 1,000-step state), and its job folder is written by the
same `finish_run` as an ordinary run's, so the sweep summary reads it as usual.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import Tensor

from experiments import chunking
from experiments.config import check_config
from experiments.errors import DivergedError
from experiments.models.base import first_nonfinite
from experiments.models.scratch_optimizers import optimizer_for
from experiments.results import finish_run, hparams_of, write_metrics

log = logging.getLogger(__name__)


@dataclass
class Member:
    """One (lr, seed) network, and the grid points (job number, steps, overrides) it answers."""

    lr: float
    seed: int
    jobs: list[dict[str, Any]] = field(default_factory=list)


class PopulationModule(L.LightningModule):
    """Members' networks stacked on dim 0 (`stack`), per-member learning rates, manual updates."""

    def __init__(self, models: list, lrs: list[float]) -> None:
        super().__init__()
        self.automatic_optimization = False
        first = models[0]
        self.arch, self.task, self.members = first.arch, first.task, len(models)
        self.stack = type(first).stack(models)
        self.register_buffer("lrs", torch.tensor(lrs, dtype=torch.float64))
        self.loss_history: list[Tensor] = []  # one (members,) tensor per step
        self.diverged_at: dict[int, tuple[int, float]] = {}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """The hand-written optimizers take one learning rate per member; a diverged member's
        rate is set to 0, which freezes it."""
        return optimizer_for(self.arch, self.stack.parameters(), lr=self.lrs.clone())

    def forward(self, x: Tensor) -> Tensor:
        return self.stack(x)

    def member_state(self, m: int) -> dict[str, Tensor]:
        """Member m's weights under the ordinary network's names (`0.weight`, ...)."""
        return {n: p[m].detach().clone() for n, p in self.stack.named_member_parameters()}

    def training_step(self, batches: list[tuple[Tensor, Tensor]], batch_idx: int) -> None:
        """One update of every member per (x, y) of the chunk, as the ordinary run's."""
        optimizer, start = self.optimizers(), self.global_step
        losses = []
        for x, y in batches:
            losses.append(self.stack.loss_and_gradients(x, y))
            # Like the ordinary run: diverged at the step whose loss is not finite (before its
            # update); from then on that member does not move.
            finite = torch.isfinite(losses[-1])
            if not finite.all():
                optimizer.param_groups[0]["lr"].mul_(finite.to(self.lrs.dtype))
            optimizer.step()
        losses = torch.stack(losses)
        self.loss_history.extend(losses)
        for m, first in enumerate(first_nonfinite(losses).tolist()):
            if first >= 0:
                self.diverged_at.setdefault(m, (start + first, float(losses[first, m])))

    def evaluate(self, stage: str, x: Tensor, y: Tensor) -> list[dict[str, Any]]:
        """Each member's loss and the task's metrics on a whole split, as an ordinary run's:
        numbers as floats, tables (a confusion matrix) as nested lists."""
        pred = self(x)
        losses = self.stack.losses(pred, y)
        out = []
        for m in range(self.members):
            metrics = self.task.evaluate(stage, pred[m], y)
            metrics = {k: float(v) if v.dim() == 0 else v.tolist() for k, v in metrics.items()}
            out.append({f"{stage}/loss": float(losses[m]), **metrics})
        return out


class SharedStream:
    """The members' training streams side by side: one shared batch when they are all the same
    (full batch), else each member's own batch, stacked on a leading member dimension."""

    def __init__(self, streams: list[Iterable], shared: bool) -> None:
        self.streams, self.shared = streams, shared

    def __iter__(self):
        if self.shared:
            yield from self.streams[0]
            return
        for batches in zip(*self.streams, strict=False):
            yield torch.stack([b[0] for b in batches]), torch.stack([b[1] for b in batches])


class Recorder(L.Callback):
    """Every member's evaluation at each requested step count, and when it was reached."""

    def __init__(self, datamodule, eval_steps: list[int]) -> None:
        self.datamodule, self.eval_steps = datamodule, set(eval_steps)
        self.results: dict[tuple[int, int], dict[str, float]] = {}
        self.weights: dict[tuple[int, int], dict[str, Tensor]] = {}
        self.seconds: dict[int, float] = {}
        self.started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if step not in self.eval_steps:
            return
        self.seconds[step] = time.perf_counter() - self.started
        weight = next(pl_module.parameters())
        with torch.no_grad():
            for stage, (x, y) in (
                ("val", self.datamodule.val_xy),
                ("test", self.datamodule.test_xy),
            ):
                x, y = x.to(weight.device, weight.dtype), y.to(weight.device, weight.dtype)
                for m, metrics in enumerate(pl_module.evaluate(stage, x, y)):
                    self.results.setdefault((m, step), {}).update(metrics)
        for m in range(pl_module.members):
            self.weights[(m, step)] = pl_module.member_state(m)


def read_plan(cfg: DictConfig) -> dict[str, Any]:
    return json.loads(Path(cfg.population_plan).read_text())


def train_population(cfg: DictConfig) -> None:
    """Run the population described by `cfg.population_plan` and write one job folder per grid
    point under the sweep folder."""
    from experiments.training import build, hydra_choices, make_trainer

    plan = read_plan(cfg)
    members: list[Member] = []
    for job in plan["jobs"]:
        member = next((m for m in members if (m.lr, m.seed) == (job["lr"], job["seed"])), None)
        if member is None:
            members.append(member := Member(job["lr"], job["seed"]))
        member.jobs.append(job)
    max_steps = max(job["steps"] for job in plan["jobs"])

    models, datamodules = [], []
    for member in members:  # each member built exactly as its ordinary run builds it
        member_cfg = _member_cfg(cfg, member.lr, member.seed, max_steps)
        check_config(member_cfg)
        datamodule, model = build(member_cfg)
        models.append(model)
        datamodules.append(datamodule)
    population = PopulationModule(models, [m.lr for m in members])
    shared = datamodules[0].batch_size is None or len({m.seed for m in members}) == 1
    stream = SharedStream([dm.train_stream() for dm in datamodules], shared)
    recorder = Recorder(datamodules[0], [job["steps"] for job in plan["jobs"]])
    trainer_cfg = OmegaConf.merge(cfg, {"trainer": {"max_steps": max_steps}})
    trainer_cfg.callbacks = None
    trainer_cfg.logger = None
    # Whole chunks of updates between the steps where members are evaluated.
    chunk = math.gcd(chunking.chunk_size(trainer_cfg), *recorder.eval_steps)
    trainer = make_trainer(trainer_cfg, Path(cfg.output_dir), [recorder], chunk)
    trainer.fit(population, train_dataloaders=chunking.chunked_loader(stream, chunk))
    log.info("population of %d members trained to %d steps", len(members), max_steps)
    _write_jobs(cfg, plan, members, recorder, population, hydra_choices())


def _member_cfg(cfg: DictConfig, lr: float, seed: int, steps: int) -> DictConfig:
    member = OmegaConf.merge(
        cfg, {"model": {"lr": lr}, "seed": seed, "trainer": {"max_steps": steps}}
    )
    with open_dict(member):
        member.pop("population_plan", None)
    return member


def _job_folder(sweep_dir: Path, job: dict[str, Any], cfg: DictConfig | None = None) -> Path:
    """`<sweep>/<job>/` with the `.hydra/` files an ordinary job of the same grid point has."""
    job_dir = sweep_dir / str(job["job"])
    (job_dir / ".hydra").mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.create(job["overrides"]), job_dir / ".hydra" / "overrides.yaml")
    if cfg is not None:
        OmegaConf.save(cfg, job_dir / ".hydra" / "config.yaml")
    return job_dir


def _write_jobs(cfg, plan, members, recorder: Recorder, population, choices) -> None:
    from lightning.pytorch.loggers import TensorBoardLogger

    losses = torch.stack(population.loss_history).float().cpu()  # (steps, members)
    sweep_dir = Path(plan["sweep_dir"])
    for m, member in enumerate(members):
        for job in member.jobs:
            steps = job["steps"]
            member_cfg = _member_cfg(cfg, member.lr, member.seed, steps)
            job_dir = _job_folder(sweep_dir, job, member_cfg)
            member_cfg.output_dir = str(job_dir)
            every = member_cfg.trainer.log_every_n_steps  # as the ordinary run logs train/loss
            logged = list(range(every, steps + 1, every))
            seconds = recorder.seconds.get(steps, 0.0)
            diverged = population.diverged_at.get(m)
            if diverged is not None and diverged[0] < steps:
                error = str(DivergedError(*diverged))
                write_metrics(job_dir, "diverged", error, diverged[0], seconds, {})
                continue
            metrics = {"train/loss": float(losses[logged[-1] - 1, m])}
            metrics.update(recorder.results[(m, steps)])
            logger = TensorBoardLogger(
                job_dir, name="tensorboard", version=job["run_name"], default_hp_metric=False
            )
            for k in logged:
                logger.log_metrics({"train/loss": float(losses[k - 1, m])}, k)
            weights = {k: v.cpu() for k, v in recorder.weights[(m, steps)].items()}
            record = dict(status="completed", error=None, steps=steps, seconds=seconds)
            hparams = hparams_of(member_cfg, choices)
            finish_run(job_dir, {**record, "metrics": metrics}, weights, logger, hparams)


def record_failure(cfg: DictConfig, err: BaseException) -> None:
    """A population that failed as a whole (a bad value in its outer group, say): every one of
    its grid points is recorded `failed` with the reason, so the sweep goes on and reports them."""
    plan = read_plan(cfg)
    for job in plan["jobs"]:
        job_dir = _job_folder(Path(plan["sweep_dir"]), job)
        write_metrics(job_dir, "failed", str(err), 0, 0.0, {})
