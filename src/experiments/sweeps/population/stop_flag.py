"""The population's stop flag (`PopulationInterrupt`, the ordinary run's `GracefulInterrupt` with
the population's own state) and its checkpoint: where a population stopped by a signal resumes
from (`resume_from`), and what it leaves once it completes (`drop_checkpoint`). See
`sweeps.population.interrupt` for the whole story."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch

from experiments.run.callbacks import GracefulInterrupt
from experiments.sweeps.population.interrupt import (
    CHECKPOINT,
    PopulationInterrupted,
    plan_identity,
)

log = logging.getLogger(__name__)

STATE_KEY = "population"  # checkpoint["callbacks"][STATE_KEY]: the plan and the recordings
RECORDED = ("train_loss", "evaluations", "weights", "seconds", "reported")  # `Recorder`'s


class PopulationInterrupt(GracefulInterrupt):
    """SIGINT/SIGTERM (SIGUSR2 under submitit) while the population trains: a flag; at the next
    step boundary the population is checkpointed to `<folder>/checkpoints/last.ckpt` and stops.

    Placed after the `Recorder` among the callbacks, so the checkpoint holds what the recorder
    took at that step. Its state (the plan's identity, the recorder's numbers, the diverged
    members) travels in the checkpoint; Lightning restores it before training resumes."""

    def __init__(self, plan: dict[str, Any], recorder, population) -> None:
        super().__init__()
        self.identity = plan_identity(plan)
        self.recorder, self.population = recorder, population
        self.resumed_from: int | None = None

    @property
    def state_key(self) -> str:
        return STATE_KEY

    def state_dict(self) -> dict[str, Any]:
        recorded = {name: getattr(self.recorder, name) for name in RECORDED}
        elapsed = time.perf_counter() - self.recorder.started
        return {
            "plan": self.identity,
            "recorder": recorded,
            "elapsed": elapsed,
            "diverged_at": self.population.diverged_at,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in RECORDED:
            setattr(self.recorder, name, state["recorder"][name])
        self.recorder.started = time.perf_counter() - state["elapsed"]  # seconds run on
        self.population.diverged_at.update(state["diverged_at"])

    def on_train_start(self, trainer: L.Trainer, pl_module) -> None:
        super().on_train_start(trainer, pl_module)
        self.resumed_from = trainer.global_step or None

    def raise_if_received(self, trainer: L.Trainer) -> None:
        """After fit: a signal stopped it."""
        if self.received and self.checkpoint is not None:
            raise PopulationInterrupted(
                self.received, trainer.global_step, trainer.max_steps, self.checkpoint
            )


def resume_from(folder: Path, plan: dict[str, Any]) -> Path | None:
    """The checkpoint this population continues from, moved into its `folder` if it lies in
    another population's (a sweep run again renumbers its populations when some completed); None
    when no population of the sweep left one of this plan."""
    identity, own = plan_identity(plan), Path(folder) / CHECKPOINT
    candidates = [own, *sorted(Path(plan["sweep_dir"]).glob(f"population_*/{CHECKPOINT}"))]
    for path in dict.fromkeys(candidates):  # own first, each once
        if path.is_file() and _identity(path) == identity:
            if path != own:
                own.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, own)
            log.info("continuing the population from its checkpoint %s", own)
            return own
    if own.is_file():
        log.warning("%s is a checkpoint of another population: starting over", own)
        own.unlink()
    return None


def _identity(path: Path) -> list | None:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        return checkpoint["callbacks"][STATE_KEY]["plan"]
    except Exception:  # torch.load raises many kinds on a file that is not its own
        return None


def drop_checkpoint(folder: Path) -> None:
    """A population that completed leaves no checkpoint to resume (nor its empty folder)."""
    checkpoint = Path(folder) / CHECKPOINT
    checkpoint.unlink(missing_ok=True)
    if checkpoint.parent.is_dir() and not any(checkpoint.parent.iterdir()):
        checkpoint.parent.rmdir()
