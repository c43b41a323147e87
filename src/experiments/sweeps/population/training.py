"""The vectorized sweeper's job: ordinary training with a member dimension.

Every (learning rate, seed) member of a grid trains together, one network each, stacked along a
leading member dimension (`stacks.stack_members`: the scratch layers with a member dimension, or
`torch.nn` networks vmapped), in one Lightning run of the longest iteration count. Each member
starts from the weights, and sees the batches, of the ordinary run with its seed. On the way it is
evaluated with the task's own metrics (`Task.evaluate_members`) at every step where one of its grid
points would validate, log or end (an SGD run to 10,000 steps passes through its 1,000-step state),
and its job folders are written by `sweeps.population.jobs`, through the same `finish_run` as
an ordinary run's, so the sweep summary and TensorBoard read them as usual.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, open_dict
from torch import Tensor

from experiments.architecture import Architecture
from experiments.job import Job
from experiments.loop import chunking
from experiments.models.base import first_nonfinite
from experiments.output.console import quiet_lightning
from experiments.run.config import check_config
from experiments.sweeps.population.jobs import Member, job_schedule, member_cfg
from experiments.sweeps.population.optimizers import member_optimizer
from experiments.sweeps.population.stacks import stack_members
from experiments.sweeps.population.stop_flag import (
    PopulationInterrupt,
    drop_checkpoint,
    resume_from,
)
from experiments.sweeps.population.writing import write_jobs

log = logging.getLogger(__name__)
quiet_lightning()  # as for ordinary runs: each message once, no advertisements


class PopulationModule(L.LightningModule):
    """Members' networks stacked on dim 0 (`stack`), per-member learning rates, manual updates."""

    def __init__(self, models: list, lrs: list[float]) -> None:
        super().__init__()
        self.automatic_optimization = False
        first = models[0]
        self.arch, self.task, self.members = first.arch, first.task, len(models)
        self.stack = stack_members(models)
        self.register_buffer("lrs", torch.tensor(lrs, dtype=torch.float64))
        self.chunk_losses: Tensor | None = None  # (updates, members) of the last chunk
        self.diverged_at: dict[int, tuple[int, float]] = {}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """The hand-written optimizers take one learning rate per member; a diverged member's
        rate is set to 0, which freezes it."""
        return member_optimizer(self.arch, self.stack.parameters(), self.lrs.clone())

    def forward(self, x: Tensor) -> Tensor:
        return self.stack(x)

    def member_state(self, m: int) -> dict[str, Tensor]:
        """Member m's weights under the ordinary network's names (`0.weight`, ...)."""
        return {n: p[m].detach().clone() for n, p in self.stack.named_member_parameters()}

    def training_step(self, batches: chunking.Chunk, batch_idx: int) -> None:
        """One update of every member per (x, y) of the chunk, as the ordinary run's."""
        optimizer, start = self.optimizers(), self.global_step
        losses, diverged = [], False
        for i, (x, y) in enumerate(batches):
            losses.append(self.stack.loss_and_gradients(x, y))
            # Like the ordinary run: diverged at the step whose loss is not finite (before its
            # update); from then on that member does not move.
            finite = torch.isfinite(losses[-1])
            if not finite.all():
                optimizer.param_groups[0]["lr"].mul_(finite.to(self.lrs.dtype))
                diverged = True
            chunking.step(self.trainer, optimizer, i)
        self.chunk_losses = torch.stack(losses)
        if diverged:  # which members, and at which step of the chunk
            for m, first in enumerate(first_nonfinite(self.chunk_losses).tolist()):
                if first >= 0:
                    loss = float(self.chunk_losses[first, m])
                    self.diverged_at.setdefault(m, (start + first, loss))

    def evaluate(self, stage: str, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        """Every member's loss and task metrics on a whole split, stacked on dim 0."""
        pred = self(x)
        metrics = self.task.evaluate_members(stage, pred, y)
        return {f"{stage}/loss": self.stack.losses(pred, y), **metrics}


class MemberBatches:
    """The members' training batches side by side: one shared batch when every member sees the
    same (full batch, or one seed); else the batch of each member's seed, drawn once per seed and
    stacked on a leading member dimension."""

    def __init__(self, datamodule, seeds: list[int]) -> None:
        self.datamodule = datamodule
        self.unique = sorted(set(seeds))
        self.index = torch.tensor([self.unique.index(s) for s in seeds])
        rows = len(datamodule.train_xy[0])
        full = datamodule.batch_size is None or datamodule.batch_size >= rows
        self.shared = full or len(self.unique) == 1

    def __iter__(self):
        streams = [iter(self.datamodule.train_stream(seed)) for seed in self.unique]
        if self.shared:
            yield from streams[0]
            return
        while True:
            batches = [next(stream) for stream in streams]
            x, y = torch.stack([b[0] for b in batches]), torch.stack([b[1] for b in batches])
            yield x[self.index], y[self.index]


class Recorder(L.Callback):
    """Each member's numbers at the steps its grid points need: `train/loss` at their logging
    steps, validation metrics at their validation steps, test metrics and weights at their ends."""

    def __init__(self, datamodule, schedule: dict[str, set[int]]) -> None:
        self.datamodule, self.schedule = datamodule, schedule
        self.train_loss: dict[int, Tensor] = {}  # step -> (members,)
        self.evaluations: dict[int, dict[str, Tensor]] = {}  # step -> metric -> (members, ...)
        self.weights: dict[int, dict[str, Tensor]] = {}  # step -> stacked weights
        self.seconds: dict[int, float] = {}
        self.started = time.perf_counter()
        self.reported = 0  # tenths of the run logged so far

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        end = trainer.global_step
        start = end - len(pl_module.chunk_losses)
        for step in range(start + 1, end + 1):
            if step in self.schedule["log"]:
                # a copy: a view would keep (and checkpoint) the whole chunk's losses
                self.train_loss[step] = pl_module.chunk_losses[step - start - 1].cpu().clone()
        stages = [s for s in ("val", "test") if end in self.schedule[s]]
        if not stages:
            return
        self.seconds[end] = time.perf_counter() - self.started
        if (tenth := end * 10 // trainer.max_steps) > self.reported:  # about ten progress lines
            self.reported = tenth
            log.info("members at step %d of %d (%.1f s)", end, trainer.max_steps, self.seconds[end])
        weight = next(pl_module.parameters())
        metrics: dict[str, Tensor] = {}
        with torch.no_grad():
            for stage in stages:
                x, y = getattr(self.datamodule, f"{stage}_xy")
                metrics.update(pl_module.evaluate(stage, x.to(weight), y.to(weight)))
        self.evaluations[end] = {k: v.cpu() for k, v in metrics.items()}
        if "test" in stages:
            self.weights[end] = {
                n: p.detach().cpu().clone() for n, p in pl_module.stack.named_member_parameters()
            }


def _members(plan: dict[str, Any]) -> list[Member]:
    """One member per (lr, seed); each answers the grid points (iteration counts) it passes."""
    members: dict[tuple[float, int], Member] = {}
    for job in plan["jobs"]:
        key = (job["lr"], job["seed"])
        members.setdefault(key, Member(*key)).jobs.append(job)
    return list(members.values())


def _check(cfg: DictConfig, members: list[Member], launch: Job) -> None:
    """The config once, as an ordinary run's, then every member's learning rate: what differs
    between members."""
    check_config(cfg, launch)
    arch = Architecture.from_config(cfg.model)
    for lr in sorted({m.lr for m in members}):
        dataclasses.replace(arch, lr=lr).check()


def train_population(cfg: DictConfig, plan: dict[str, Any], launch: Job) -> None:
    """Train the population of `plan` (its grid points, under the sweep folder it names) and
    write one job folder per grid point; `launch`: how Hydra launched the population's job."""
    from experiments.run.build import build, build_model
    from experiments.run.trainer import make_trainer

    members = _members(plan)
    max_steps = max(job["steps"] for job in plan["jobs"])
    started = time.perf_counter()
    base = member_cfg(cfg, members[0].lr, members[0].seed, max_steps)
    _check(base, members, launch)
    datamodule, _ = build(base, members=len(members))  # all of them must fit (`run.memory`)
    by_seed, seeds = {}, sorted({m.seed for m in members})
    tenth = len(seeds) // 10  # a progress line each tenth, from 100 seeds (~1 s to build)
    for i, seed in enumerate(seeds, 1):  # each seed's weights as its ordinary run's
        L.seed_everything(seed, workers=True, verbose=False)
        by_seed[seed] = build_model(base, datamodule)
        if tenth >= 10 and i % tenth == 0 and i < len(seeds):
            log.info("building members: the networks of %d of %d seeds", i, len(seeds))
    population = PopulationModule([by_seed[m.seed] for m in members], [m.lr for m in members])
    log.info(
        "built %d members (%d seeds x %d learning rates) in %.1f s",
        len(members),
        len(by_seed),
        len({m.lr for m in members}),
        time.perf_counter() - started,
    )
    schedule = job_schedule(cfg, plan)
    recorder = Recorder(datamodule, schedule)
    trainer_cfg = member_cfg(cfg, members[0].lr, members[0].seed, max_steps)
    with open_dict(trainer_cfg):
        trainer_cfg.callbacks = None
        trainer_cfg.logger = None
        trainer_cfg.trainer.enable_progress_bar = False  # the recorder logs progress in steps
    # Whole chunks of updates between the steps where members are evaluated.
    chunk = math.gcd(chunking.chunk_size(trainer_cfg), *schedule["val"], *schedule["test"])
    interrupt = PopulationInterrupt(plan, recorder, population)  # a signal: checkpoint, stop
    trainer = make_trainer(trainer_cfg, Path(cfg.output_dir), [recorder, interrupt], chunk)
    datamodule.trainer = trainer  # the members' streams start at the step the fit starts from
    stream = MemberBatches(datamodule, [m.seed for m in members])
    loader = chunking.chunked_loader(stream, trainer, chunk)
    resumed = resume_from(Path(cfg.output_dir), plan)
    trainer.fit(population, train_dataloaders=loader, ckpt_path=resumed, weights_only=True)
    interrupt.raise_if_received(trainer)
    log.info(
        "trained %d members to %d steps in %.1f s",
        len(members),
        max_steps,
        time.perf_counter() - recorder.started,
    )
    diverged, resumed_from = population.diverged_at, interrupt.resumed_from
    notes = datamodule.record_notes
    write_jobs(cfg, plan, members, recorder, diverged, launch.choices, resumed_from, notes)
    drop_checkpoint(Path(cfg.output_dir))
