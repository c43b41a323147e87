"""Config resolvers, and the checks that run before anything heavy is imported."""

from __future__ import annotations

import math
from numbers import Real
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from experiments.errors import ConfigError, missing_checkpoint, missing_csv

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "identity")
LOSS_NAMES = ("mse", "bce")
INIT_NAMES = ("default", "normal", "xavier")
MAX_UPDATES_PER_BATCH = 100


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


def _one_of(key: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} is unknown: choose one of {', '.join(allowed)}")


def _step_counts(cfg: DictConfig, done: int) -> list[int]:
    """Every step count a chunk of updates must divide: the validation, logging and periodic
    checkpoint intervals, `trainer.max_steps`, and the steps a resumed checkpoint has done."""
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


def updates_per_batch(cfg: DictConfig, done: int = 0) -> int:
    """Optimizer updates per Lightning batch (`updates_per_batch`, default `auto`).

    Lightning's per-batch machinery costs more than a whole update of a lesson network, so one
    batch carries a chunk of updates. Every interval stays on its exact step because the chunk
    divides them all, and `trainer.max_steps` too: `auto` is the largest such count up to 100.
    """
    requested = cfg.get("updates_per_batch", "auto")
    if not isinstance(cfg.trainer.get("val_check_interval"), int):
        return 1  # a fraction of an epoch: Lightning's own batch counting, one update each
    counts = _step_counts(cfg, done)
    common = math.gcd(*counts)
    if requested == "auto":
        return max(d for d in range(1, min(common, MAX_UPDATES_PER_BATCH) + 1) if common % d == 0)
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


def check_config(cfg: DictConfig) -> None:
    """Raise a `ConfigError` naming the key, the value and what is allowed."""
    model = cfg.model
    _positive_number("model.lr", model.lr)
    _positive_number("trainer.max_steps", cfg.trainer.max_steps, int)
    updates_per_batch(cfg)
    hidden = model.hidden
    if not OmegaConf.is_list(hidden) or not all(
        isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden
    ):
        shown = OmegaConf.to_container(hidden) if OmegaConf.is_config(hidden) else hidden
        raise ConfigError(
            f"model.hidden={shown} is not allowed: "
            "use a list of positive widths, e.g. [4], or [] for one neuron"
        )
    _one_of("model.activation", model.activation, ACTIVATION_NAMES)
    _one_of("model.output_activation", model.output_activation, ACTIVATION_NAMES)
    _one_of("model.loss", model.loss, LOSS_NAMES)
    _one_of("model.init", model.init, INIT_NAMES)
    if model.loss == "bce" and model.output_activation != "sigmoid":
        raise ConfigError(
            f"model.loss=bce needs probabilities: set model.output_activation=sigmoid "
            f"(it is {model.output_activation})"
        )
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
