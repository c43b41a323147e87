"""A population: every (learning rate, seed) member of a grid trained together, one network each,
stacked along a leading member dimension, in one Lightning run of the longest iteration count.

`hydra/sweeper=vectorized` launches one population job per combination of the keys it cannot
batch (data, architecture, accelerator...). Each member starts from exactly the weights, and sees
exactly the batches, of the ordinary run with its seed, and is evaluated at every requested
iteration count on the way: an SGD run to 10,000 steps passes through its 1,000-step state. The
results are written as ordinary job folders, so the sweep summary reads them as usual.
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
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap
from torch.utils.data import DataLoader, IterableDataset
from torchmetrics.functional import mean_absolute_error
from torchmetrics.functional.classification import binary_accuracy, binary_confusion_matrix

from experiments.config import check_config, updates_per_batch
from experiments.data.batches import Chunks
from experiments.errors import DivergedError
from experiments.models.architecture import build_network
from experiments.models.scratch_layers import ACTIVATIONS, LOSSES, Linear, Sequential
from experiments.record import hparams_of, write_atomic, write_metrics

log = logging.getLogger(__name__)


@dataclass
class Member:
    """One (lr, seed) network, and the grid points (job number, steps, overrides) it answers."""

    lr: float
    seed: int
    jobs: list[dict[str, Any]] = field(default_factory=list)


class PopulationModule(L.LightningModule):
    """Members' weights stacked on dim 0; per-member learning rates; manual optimization.

    scratch: the scratch layers with a member dimension, hand-written backward.
    mlp: `torch.nn.Linear` networks stacked with `torch.func`, vmapped, autograd.
    """

    def __init__(self, kind: str, models: list, lrs: list[float]) -> None:
        super().__init__()
        self.automatic_optimization = False
        first = models[0]
        self.kind, self.task, self.members = kind, first.task, len(models)
        self.register_buffer("lrs", torch.tensor(lrs))
        self.loss_history: list[Tensor] = []  # one (members,) tensor per step
        nets = [model.net for model in models]
        if kind == "scratch":
            states = [net.state_dict() for net in nets]
            arch = first.arch
            self.net = build_network(
                arch,
                lambda i, o, b: Linear(i, o, b, members=self.members),
                ACTIVATIONS,
                Sequential,
                initialise=False,
            )
            with torch.no_grad():
                for name, param in self.net.named_parameters():
                    param.copy_(torch.stack([s[name] for s in states]))
            self.loss_fn = LOSSES[first.hparams.loss]()
        else:
            params, _ = stack_module_state([net.eval() for net in nets])
            self.names = list(params)
            self.stacked = nn.ParameterList(nn.Parameter(params[n].detach()) for n in self.names)
            self.template = [nets[0].to("meta")]  # a list: not registered as a submodule
            self.torch_loss = first.criterion
        self.diverged_at: dict[int, tuple[int, float]] = {}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=1.0)  # gradients arrive scaled by each lr

    def forward(self, x: Tensor) -> Tensor:
        if self.kind == "scratch":
            with torch.no_grad():
                return self.net.forward(x)
        params = dict(zip(self.names, self.stacked, strict=True))
        in_x = 0 if x.dim() == 3 else None
        return vmap(lambda p, xs: functional_call(self.template[0], p, (xs,)), in_dims=(0, in_x))(
            params, x
        )

    def member_state(self, m: int) -> dict[str, Tensor]:
        """Member m's weights under the ordinary network's names (`0.weight`, ...)."""
        if self.kind == "scratch":
            named = self.net.named_parameters()
        else:
            named = zip(self.names, self.stacked, strict=True)
        return {name: param[m].detach().clone() for name, param in named}

    def member_losses(self, pred: Tensor, y: Tensor) -> Tensor:
        if self.kind == "scratch":
            return self.loss_fn.forward(pred, y)
        in_y = 0 if y.dim() == 3 else None
        return vmap(self.torch_loss, in_dims=(0, in_y))(pred, y)

    def training_step(self, batches: list[tuple[Tensor, Tensor]], batch_idx: int) -> None:
        """One update of every member per (x, y) of the chunk, as the ordinary run's."""
        optimizer = self.optimizers()
        for x, y in batches:
            self.update(x, y, optimizer)

    def update(self, x: Tensor, y: Tensor, optimizer) -> None:
        if self.kind == "scratch":
            with torch.no_grad():
                losses = self.loss_fn.forward(self.net.forward(x), y)
                self.net.backward(self.loss_fn.backward())
        else:
            optimizer.zero_grad()
            losses = self.member_losses(self(x), y)
            self.manual_backward(losses.sum())
        self.loss_history.append(losses.detach())
        self.note_divergence(losses.detach())
        with torch.no_grad():
            lr = self.lrs.to(losses.dtype) * torch.isfinite(losses)  # a diverged member stops
            for p in self.parameters():
                p.grad.mul_(lr.view(-1, *[1] * (p.dim() - 1)))
        optimizer.step()

    def note_divergence(self, losses: Tensor) -> None:
        """Like the ordinary run: diverged at the step whose loss is not finite (before its
        update); from then on that member's learning rate is zero."""
        bad = ~torch.isfinite(losses)
        if bad.any():
            for m in bad.nonzero().ravel().tolist():
                self.diverged_at.setdefault(m, (self.global_step, float(losses[m])))


class SharedStream(IterableDataset):
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
        if step in self.eval_steps:
            self.seconds[step] = time.perf_counter() - self.started
            with torch.no_grad():
                self.results.update(evaluate(pl_module, self.datamodule, step))
            for m in range(pl_module.members):
                self.weights[(m, step)] = pl_module.member_state(m)


def evaluate(module: PopulationModule, datamodule, step: int) -> dict[tuple[int, int], dict]:
    """Validation and test metrics of every member at this step, named as an ordinary run."""
    out: dict[tuple[int, int], dict] = {}
    weight = next(module.parameters())
    for stage, (x, y) in (("val", datamodule.val_xy), ("test", datamodule.test_xy)):
        x, y = x.to(weight.device, weight.dtype), y.to(weight.device, weight.dtype)
        pred = module(x)
        losses = module.member_losses(pred, y)
        for m in range(module.members):
            metrics = out.setdefault((m, step), {})
            metrics[f"{stage}/loss"] = float(losses[m])
            if module.task == "binary":  # torchmetrics, as the ordinary run's metrics
                metrics[f"{stage}/acc"] = float(binary_accuracy(pred[m], y.long()))
            else:
                metrics[f"{stage}/mae"] = float(mean_absolute_error(pred[m], y))
            if stage == "test" and module.task == "binary":
                rate = y.float().mean()
                metrics["test/baseline_acc"] = float(torch.maximum(rate, 1 - rate))
                (tn, fp), (fn, tp) = binary_confusion_matrix(pred[m], y.long()).tolist()
                metrics.update({"test/tn": tn, "test/fp": fp, "test/fn": fn, "test/tp": tp})
    return out


def train_population(cfg: DictConfig) -> None:
    """Run the population described by `cfg.population_plan` and write one job folder per grid
    point under the sweep folder."""
    from experiments.training import build, hydra_choices, make_trainer

    plan = json.loads(Path(cfg.population_plan).read_text())
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
    kind = "scratch" if cfg.model._target_.endswith("ScratchModule") else "mlp"
    population = PopulationModule(kind, models, [m.lr for m in members])
    shared = datamodules[0].batch_size is None or len({m.seed for m in members}) == 1
    stream = SharedStream([dm.train_stream() for dm in datamodules], shared)
    recorder = Recorder(datamodules[0], [job["steps"] for job in plan["jobs"]])
    trainer_cfg = OmegaConf.merge(cfg, {"trainer": {"max_steps": max_steps}})
    trainer_cfg.callbacks = None
    trainer_cfg.logger = None
    # Whole chunks of updates between the steps where members are evaluated.
    per_batch = math.gcd(updates_per_batch(trainer_cfg), *recorder.eval_steps)
    trainer = make_trainer(trainer_cfg, Path(cfg.output_dir), [recorder], per_batch)
    trainer.fit(
        population, train_dataloaders=DataLoader(Chunks(stream, per_batch), batch_size=None)
    )
    log.info("population of %d members trained to %d steps", len(members), max_steps)
    _write_jobs(cfg, plan, members, recorder, population, hydra_choices())


def _member_cfg(cfg: DictConfig, lr: float, seed: int, steps: int) -> DictConfig:
    member = OmegaConf.merge(
        cfg, {"model": {"lr": lr}, "seed": seed, "trainer": {"max_steps": steps}}
    )
    with open_dict(member):
        member.pop("population_plan", None)
    return member


def _write_jobs(cfg, plan, members, recorder: Recorder, population, choices) -> None:
    from lightning.pytorch.loggers import TensorBoardLogger

    losses = torch.stack(population.loss_history).float().cpu()  # (steps, members)
    sweep_dir = Path(plan["sweep_dir"])
    for m, member in enumerate(members):
        for job in member.jobs:
            steps = job["steps"]
            job_dir = sweep_dir / str(job["job"])
            (job_dir / ".hydra").mkdir(parents=True, exist_ok=True)
            (job_dir / ".hydra" / "overrides.yaml").write_text(OmegaConf.to_yaml(job["overrides"]))
            member_cfg = _member_cfg(cfg, member.lr, member.seed, steps)
            member_cfg.output_dir = str(job_dir)
            (job_dir / ".hydra" / "config.yaml").write_text(OmegaConf.to_yaml(member_cfg))
            every = member_cfg.trainer.log_every_n_steps  # as the ordinary run logs train/loss
            logged = list(range(every, steps + 1, every))
            metrics = {"train/loss": float(losses[logged[-1] - 1, m])}
            diverged = population.diverged_at.get(m)
            if diverged is not None and diverged[0] < steps:
                step, value = diverged
                error = str(DivergedError(step, value))
                write_metrics(
                    job_dir, "diverged", error, step, recorder.seconds.get(steps, 0.0), {}
                )
                continue
            metrics.update(recorder.results[(m, steps)])
            state = {k: v.cpu() for k, v in recorder.weights[(m, steps)].items()}
            write_atomic(job_dir / "weights.pth", lambda f, state=state: torch.save(state, f))
            write_metrics(job_dir, "completed", None, steps, recorder.seconds[steps], metrics)
            logger = TensorBoardLogger(
                job_dir, name="tensorboard", version=job["run_name"], default_hp_metric=False
            )
            for k in logged:
                logger.log_metrics({"train/loss": float(losses[k - 1, m])}, k)
            logger.log_hyperparams(hparams_of(member_cfg, choices), metrics, steps)
            logger.finalize("success")
