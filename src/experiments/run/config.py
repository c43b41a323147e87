"""Config resolvers, and the checks that run before anything heavy is imported."""

from __future__ import annotations

import math
from numbers import Real
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from experiments.architecture import Architecture
from experiments.errors import ConfigError, missing_checkpoint
from experiments.job import Job
from experiments.layer_paths import check_layer_path
from experiments.loop import data_parallel
from experiments.loop.chunking import chunk_size
from experiments.loop.devices import check_gpu
from experiments.run import sweep_metric
from experiments.run.trainer_check import check_trainer_keys
from experiments.tasks import model_defaults


def register_resolvers() -> None:
    """`${ceil_div:a,b}` = max(1, ceil(a / b)): intervals that scale with `trainer.max_steps`."""
    if not OmegaConf.has_resolver("ceil_div"):
        OmegaConf.register_new_resolver("ceil_div", lambda a, b: max(1, math.ceil(a / b)))
    sweep_metric.register()  # `${optuna_direction:...}`: Optuna's direction by the metric


register_resolvers()  # this module reads a config's intervals (`check_config`); so do the entries


def _positive_number(key: str, value: object, kind: type = Real) -> None:
    ok = isinstance(value, kind) and not isinstance(value, bool) and value > 0
    if not ok or (isinstance(value, float) and not math.isfinite(value)):
        what = "a positive integer" if kind is int else "a positive number"
        raise ConfigError(f"{key}={value!r} is not allowed: use {what}")


def _check_compare(cfg: DictConfig) -> None:
    """`compare` is true or false, `compare_tolerance` null or positive (a vectorized population
    refuses compare=true itself: `sweeps.population.entry.check_population`)."""
    if not isinstance(compare := cfg.get("compare", False), bool):
        raise ConfigError(f"compare={compare!r} is not allowed: use true or false")
    if (tolerance := cfg.get("compare_tolerance")) is not None:
        _positive_number("compare_tolerance", tolerance)
    if compare and "mixed" in (precision := str(cfg.trainer.get("precision"))):
        raise ConfigError(
            f"compare=true with trainer.precision={precision}: use one precision for every "
            "operation, e.g. 64-true or 32-true (mixed precision rescales autograd's loss)"
        )


PRECISIONS = ("64-true", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true")
ACCELERATORS = ("cpu", "gpu", "cuda", "auto")
SEED_MAX = 2**32 - 1  # numpy's seeds: 0 to 2**32 - 1


def _check_trainer(cfg: DictConfig) -> None:
    """`seed`, `trainer.precision` and `trainer.accelerator`: values this project can run."""
    seed = cfg.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise ConfigError(f"seed={seed!r} is not allowed: use an integer from 0 to {SEED_MAX}")
    precision = str(cfg.trainer.get("precision"))
    precision = {"64": "64-true", "32": "32-true", "16": "16-mixed", "bf16": "bf16-mixed"}.get(
        precision, precision
    )
    _one_of("trainer.precision", precision, PRECISIONS)
    scratch = str(cfg.model.get("_target_")).endswith("ScratchModule")
    if precision.endswith("-mixed") and scratch and cfg.get("compare") is not True:
        raise ConfigError(
            f"trainer.precision={precision} with model=scratch is not supported (autocast does "
            "not reach hand-written gradients): use 32-true, 64-true, or model=mlp"
        )
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    _one_of("trainer.accelerator", accelerator, ACCELERATORS)


def _one_of(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}={value} is not allowed: use one of {', '.join(allowed)}")


def check_config(cfg: DictConfig, job: Job | None = None) -> None:
    """Raise a `ConfigError` naming the key, the value and what is allowed (a `DataError` for
    the table `data.path` names: it is read here, before torch). Model keys left at `auto`
    (`experiment=table`) are set here from the data's task. `job`: how the run was launched."""
    from experiments.data.checks import check_data  # pandas: only once a run is checked

    check_trainer_keys(cfg, job)  # every Trainer argument: honoured, translated or refused
    _check_trainer(cfg)
    if not isinstance(train := cfg.get("train", True), bool):
        raise ConfigError(f"train={train!r} is not allowed: use true or false")
    if not train and not cfg.get("ckpt_path"):
        raise ConfigError("train=false evaluates a checkpoint: add ckpt_path=PATH")
    chunk_size(cfg)
    task = check_data(cfg.data)
    sweep_metric.check_for_task(
        cfg.get("optimized_metric", "val/loss"), task, cfg.get("compare") is True
    )
    for key, value in model_defaults(cfg.model, task).items():
        cfg.model[key] = value
    arch = Architecture.from_config(cfg.model)
    for key, name in arch.layer_paths.items():  # first: what the other checks name
        check_layer_path(key, name)
    arch.check()
    if (ckpt := cfg.get("ckpt_path")) and not Path(ckpt).expanduser().is_file():
        raise missing_checkpoint(ckpt)
    _check_compare(cfg)
    data_parallel.check(cfg)
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    if accelerator in ("gpu", "cuda"):  # the one check that needs torch, and only then
        check_gpu(accelerator)
