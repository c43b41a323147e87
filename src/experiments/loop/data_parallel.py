"""Data-parallel training (`trainer.devices=N trainer.strategy=ddp`), and what it means by hand.

Each update's global batch is split into one contiguous shard per rank (`shard`). A rank's loss
is the mean over its own rows; weighting it by rows_r * N / rows makes the average over ranks of
the weighted gradients exactly the gradient of the global batch's mean loss, shards of unequal
size included. The autograd model leaves that average to DDP (it all-reduces `.grad` during
`backward`); the scratch model does it itself (`average_gradients`): a sum over ranks by
`all_reduce`, divided by N — the lesson of what DDP does. Validation and test are not split:
every rank scores the whole split, and rank 0 writes the files.
"""

from __future__ import annotations

import math
import os

from omegaconf import DictConfig

from experiments.errors import ConfigError


def world_size(trainer) -> int:
    return trainer.world_size if trainer is not None else 1


def is_child_rank() -> bool:
    """A process Lightning launched for rank > 0 (it re-runs the script with RANK set)."""
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0"))) > 0


def requested_devices(cfg: DictConfig) -> int:
    """`trainer.devices` as a count (1 when it is not a number Lightning would spread over)."""
    devices = cfg.trainer.get("devices", 1)
    if isinstance(devices, int) and not isinstance(devices, bool):
        return devices
    if isinstance(devices, str) and devices.isdigit():
        return int(devices)
    return len(devices) if isinstance(devices, (list, tuple)) else 1


def check(cfg: DictConfig, train_rows: int | None = None) -> None:
    """Refuse, in one line, what data-parallel training cannot do exactly."""
    devices = requested_devices(cfg)
    if devices <= 1:
        return
    strategy = str(cfg.trainer.get("strategy", "auto"))
    if not strategy.startswith("ddp"):
        raise ConfigError(
            f"trainer.devices={devices} needs trainer.strategy=ddp (it is {strategy}): "
            "add trainer.strategy=ddp, or use trainer.devices=1"
        )
    if str(cfg.trainer.get("accelerator", "cpu")) == "cpu" and devices > (os.cpu_count() or 1):
        raise ConfigError(
            f"trainer.devices={devices} on the CPU needs {devices} cores; this machine has "
            f"{os.cpu_count()}: use trainer.devices={os.cpu_count()} or fewer"
        )
    batch = cfg.data.get("batch_size")
    rows = batch if batch is not None else train_rows
    if rows is not None and train_rows is not None:
        rows = min(rows, train_rows)
    if rows is not None and rows < devices:
        raise ConfigError(
            f"trainer.devices={devices} splits each batch across {devices} ranks, but a batch "
            f"has {rows} row{'s' if rows != 1 else ''}: use data.batch_size>={devices} "
            "(or null for the full batch), or trainer.devices=1"
        )


def shard(x, y, rank: int, world: int):
    """Rank's contiguous share of the global batch (x, y) on the row dimension, and the weight
    that makes the average of the ranks' mean-loss gradients the global mean's gradient."""
    rows = len(x)
    per_rank = math.ceil(rows / world)
    start, stop = min(rank * per_rank, rows), min((rank + 1) * per_rank, rows)
    weight = (stop - start) * world / rows
    return x[start:stop], y[start:stop], weight


def average_gradients(parameters, world: int) -> None:
    """`.grad` of every parameter averaged over the ranks, by hand: a sum by `all_reduce`,
    then / N. What DDP does for autograd's gradients during `backward`."""
    import torch.distributed as dist

    for p in parameters:
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad.div_(world)
