"""Config resolvers, and the checks that run before anything heavy is imported."""

from __future__ import annotations

import math
from numbers import Real
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from experiments.architecture import Architecture
from experiments.chunking import chunk_size
from experiments.errors import ConfigError, missing_checkpoint, missing_csv


def tensorboard_run_name() -> str:
    """In a sweep, the job's overrides (`model.lr=0.1,trainer.max_steps=1000`), so TensorBoard
    names each job by what it changed; in a single run, nothing (events go in tensorboard/)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return ""
    return HydraConfig.get().job.override_dirname.replace("/", "_") or "defaults"


def register_resolvers() -> None:
    """`${ceil_div:a,b}` = max(1, ceil(a / b)): intervals that scale with `trainer.max_steps`;
    `${tensorboard_run:}`: see `tensorboard_run_name`."""
    if not OmegaConf.has_resolver("ceil_div"):
        OmegaConf.register_new_resolver("ceil_div", lambda a, b: max(1, math.ceil(a / b)))
    if not OmegaConf.has_resolver("tensorboard_run"):
        OmegaConf.register_new_resolver("tensorboard_run", tensorboard_run_name)


def _positive_number(key: str, value: object, kind: type = Real) -> None:
    ok = isinstance(value, kind) and not isinstance(value, bool) and value > 0
    if not ok or (isinstance(value, float) and not math.isfinite(value)):
        what = "a positive integer" if kind is int else "a positive number"
        raise ConfigError(f"{key}={value!r} is not allowed: use {what}")


def check_config(cfg: DictConfig) -> None:
    """Raise a `ConfigError` naming the key, the value and what is allowed."""
    Architecture.from_config(cfg.model).check()
    _positive_number("trainer.max_steps", cfg.trainer.max_steps, int)
    chunk_size(cfg)
    if (path := cfg.data.get("path")) and not Path(path).expanduser().is_file():
        raise missing_csv("data.path", path)
    if (ckpt := cfg.get("ckpt_path")) and not Path(ckpt).expanduser().is_file():
        raise missing_checkpoint(ckpt)
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    if accelerator in ("gpu", "cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(
                f"trainer.accelerator={accelerator} but this machine has no CUDA GPU: "
                "use trainer.accelerator=cpu or trainer.accelerator=auto"
            )
