"""`check_trainer_keys`: every `trainer.` key of a config, refused in one line where the run
cannot honour it (`run.trainer_keys`), and the rules that tie keys together, before any heavy
import."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from experiments.errors import ConfigError
from experiments.job import Job
from experiments.run.trainer_keys import refusal

# Keys counted in epochs (or shares of one): steps only once the data is read (`run.epochs`).
EPOCH_KEYS = ("max_epochs", "min_epochs", "check_val_every_n_epoch", "limit_train_batches")


def epoch_keys(cfg: DictConfig) -> list[str]:
    """The keys of `cfg.trainer` that count epochs, as `key=value`: a float
    `val_check_interval` (a share of an epoch) among them."""
    trainer = cfg.trainer
    keys = [f"trainer.{k}={trainer[k]}" for k in EPOCH_KEYS if _set(trainer.get(k))]
    if isinstance(trainer.get("val_check_interval"), float):
        keys.append(f"trainer.val_check_interval={trainer.val_check_interval}")
    return keys


def _set(value: object) -> bool:
    """Set to something that counts: not null, not -1 (Lightning's "no limit"), not 1.0 (all)."""
    return value is not None and value != -1 and not (isinstance(value, float) and value == 1.0)


def check_trainer_keys(cfg: DictConfig, job: Job | None = None) -> None:
    """Raise a `ConfigError` for the first `trainer.` key the run cannot honour."""
    trainer = cfg.trainer
    for key in trainer:
        if (line := refusal(str(key), trainer[key])) is not None:
            raise ConfigError(line)
    if smoke := trainer.get("fast_dev_run"):
        if job is not None and job.multirun:
            raise ConfigError(
                f"trainer.fast_dev_run={smoke} in a sweep: a smoke run writes no results for the "
                "sweep to report; run it without -m"
            )
        return  # Lightning's smoke run sets its own steps
    if trainer.max_steps == -1 and trainer.get("max_epochs") in (None, -1):
        raise ConfigError(
            "trainer.max_steps=-1 (no step limit) needs trainer.max_epochs=N, as the training "
            "stream never ends by itself: add trainer.max_epochs=N, or set trainer.max_steps=N"
        )
    limit = trainer.get("limit_train_batches")
    if _set(limit) and len(epoch_keys(cfg)) == 1:
        raise ConfigError(
            f"trainer.limit_train_batches={limit} shortens each epoch, but this run counts steps, "
            "not epochs: add trainer.max_epochs=N trainer.max_steps=-1, or lower trainer.max_steps"
        )
    every = trainer.get("check_val_every_n_epoch")
    if every is not None and not OmegaConf.is_interpolation(trainer, "val_check_interval"):
        raise ConfigError(
            f"trainer.check_val_every_n_epoch={every} with trainer.val_check_interval="
            f"{trainer.val_check_interval}: give one of them"
        )


def check_population_keys(cfg: DictConfig) -> None:
    """A vectorized population counts steps only: its grid is `trainer.max_steps`."""
    if keys := epoch_keys(cfg) + (
        ["trainer.fast_dev_run"] if cfg.trainer.get("fast_dev_run") else []
    ):
        raise ConfigError(
            f"{keys[0]}: a vectorized population counts steps only (its grid is "
            "trainer.max_steps): give trainer.max_steps=N, or drop hydra/sweeper=vectorized"
        )
