"""Several optimizer updates per Lightning batch, and everything that follows from it.

Lightning's per-batch machinery (hooks, progress tracking, logging) costs more than a whole update
of a lesson network, so one Lightning batch carries a chunk of consecutive batches and the model
makes one update per batch of it. This module owns the idea: the size rule (`chunk_size`), the
trainer's intervals in batches (`trainer_intervals`), the chunked loader (`chunked_loader`), one
update of a chunk (`step`) and re-expressing a checkpoint's batch counters in another chunk
(`recount_batches`). The run's chunk is decided once (`chunk_size`) and handed to the data module,
the model and the trainer as they are built.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

from omegaconf import DictConfig, OmegaConf

from experiments.errors import ConfigError
from experiments.loop.data_parallel import requested_devices

MAX_CHUNK = 100


def _step_counts(cfg: DictConfig, done: int) -> list[int]:
    """Every step count a chunk must divide: the validation, logging and periodic checkpoint
    intervals, `trainer.max_steps`, and the steps a resumed checkpoint has done."""
    counts = [
        cfg.trainer.get("val_check_interval"),
        cfg.trainer.get("log_every_n_steps"),
        cfg.trainer.get("max_steps"),
        done,
    ]
    for callback in (cfg.get("callbacks") or {}).values():
        if OmegaConf.is_dict(callback):
            counts.append(callback.get("every_n_train_steps"))
    return [i for i in counts if isinstance(i, int) and not isinstance(i, bool) and i > 0]


def chunk_size(cfg: DictConfig, done: int = 0) -> int:
    """Optimizer updates per Lightning batch (`updates_per_batch`, default `auto`): the largest
    count up to 100 that divides every step count of the run, so each falls on its exact step."""
    requested = cfg.get("updates_per_batch", "auto")
    if not isinstance(cfg.trainer.get("val_check_interval"), int):
        return 1  # a fraction of an epoch: Lightning's own batch counting, one update each
    if cfg.trainer.get("fast_dev_run"):
        return 1  # Lightning's smoke run counts its N steps in batches
    if requested_devices(cfg) > 1:  # DDP reduces once per forward: one update per batch
        if requested not in ("auto", 1):
            raise ConfigError(
                f"updates_per_batch={requested} cannot run data-parallel (trainer.devices="
                f"{requested_devices(cfg)}): use updates_per_batch=auto or 1"
            )
        return 1
    counts = _step_counts(cfg, done)
    common = math.gcd(*counts)
    if requested == "auto":
        return max(d for d in range(1, min(common, MAX_CHUNK) + 1) if common % d == 0)
    if not isinstance(requested, int) or isinstance(requested, bool) or requested < 1:
        raise ConfigError(
            f"updates_per_batch={requested!r} is not allowed: use auto or a positive integer"
        )
    if common % requested:
        raise ConfigError(
            f"updates_per_batch={requested} does not divide every step count "
            f"({', '.join(map(str, counts))}): use updates_per_batch=auto or a divisor of {common}"
        )
    return requested


def trainer_intervals(cfg: DictConfig, chunk: int) -> dict[str, int]:
    """The config counts validation and logging in optimizer steps; Lightning counts batches."""
    if chunk == 1:
        return {}
    return {
        "val_check_interval": cfg.trainer.val_check_interval // chunk,
        "log_every_n_steps": cfg.trainer.log_every_n_steps // chunk,
    }


class Chunk:
    """`chunk` consecutive (x, y) batches: one Lightning batch, one update each.

    Not a list: Lightning walks a list batch element by element to move it to the device (~30 us
    an update for a 100-batch chunk); a `Chunk` moves itself in one call."""

    def __init__(self, batches: list) -> None:
        self.batches = batches

    def __iter__(self) -> Iterator:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)

    def to(self, *args: Any, **kwargs: Any) -> Chunk:
        x, y = self.batches[0]  # a chunk's batches all come from one stream: one place, one type
        if x.to(*args, **kwargs) is x and y.to(*args, **kwargs) is y:
            return self  # there already, as every chunk of a CPU run is: nothing to walk
        return Chunk([(x.to(*args, **kwargs), y.to(*args, **kwargs)) for x, y in self.batches])


class Chunks:
    """`Chunk`s of `chunk` consecutive batches of `batches`, each batch passed through `convert`
    as it is drawn (the precision plugin's: a `Chunk` is not a collection it converts)."""

    def __init__(self, batches: Iterable, chunk: int, convert=None) -> None:
        self.batches, self.chunk = batches, chunk
        self.convert = convert or (lambda batch: batch)

    def __iter__(self) -> Iterator[Chunk]:
        batches = iter(self.batches)
        while True:
            yield Chunk([self.convert(next(batches)) for _ in range(self.chunk)])


def chunked_loader(batches: Iterable, trainer, chunk: int):
    """A DataLoader whose every item is a `Chunk` of `chunk` batches, in the trainer's precision
    (already tensors: no collation, no worker processes)."""
    from torch.utils.data import DataLoader, IterableDataset

    chunks = Chunks(batches, chunk, trainer.precision_plugin.convert_input)

    class _Dataset(IterableDataset):
        def __iter__(self) -> Iterator[Chunk]:
            return iter(chunks)

    return DataLoader(_Dataset(), batch_size=None, num_workers=0)


def recount_batches(checkpoint: dict[str, Any], chunk: int) -> None:
    """Lightning's training-batch counters of `checkpoint`, in place, as if every batch so far
    had held `chunk` updates: Lightning validates and logs by batch count."""
    loop = checkpoint.get("loops", {}).get("fit_loop", {})
    progress = loop.get("epoch_loop.batch_progress")
    if not progress:
        return
    shift = checkpoint["global_step"] // chunk - progress["total"]["processed"]
    for counts in (progress["total"], progress["current"]):
        for key in counts:
            counts[key] += shift
    state = loop.get("epoch_loop.state_dict")
    if state is not None:
        state["_batches_that_stepped"] = state.get("_batches_that_stepped", 0) + shift


@cache
def _mixed_precision() -> type:
    """Lightning's mixed-precision plugin class, imported on first use: the size rule above is read
    by the config checks, which run before Lightning is imported."""
    from lightning.pytorch.plugins.precision import MixedPrecision

    return MixedPrecision


def step(trainer, optimizer, i: int) -> None:
    """Update `i` of a chunk, by `optimizer` (Lightning's `LightningOptimizer`).

    The first goes through Lightning's `optimizer.step()` (hooks, precision plugin, profiler:
    ~100 us, more than a lesson network's whole update); the rest by the bare optimizer (its
    hook-free `update()` where it has one, as the hand-written ones do), each counted by Lightning
    as one optimizer step. So `global_step` counts every update, and `max_steps`, intervals,
    checkpoints and resume stay on exact steps; `on_before_optimizer_step` sees the first update
    of each chunk, which every interval falls on. With mixed precision every update goes through
    Lightning: its plugin scales the loss and unscales the gradients, which ours alone cannot.
    """
    if i == 0 or isinstance(trainer.precision_plugin, _mixed_precision()):
        optimizer.step()
        return
    bare = optimizer.optimizer
    getattr(bare, "update", bare.step)()
    progress = trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress
    progress.increment_ready()
    progress.increment_completed()
