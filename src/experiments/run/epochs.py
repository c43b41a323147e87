"""Epochs in steps: the Trainer keys counted in epochs (or shares of one), turned into the
optimizer steps the endless training stream counts, once the training rows are known.

An epoch is one pass over the training rows: ceil(rows / data.batch_size) batches (one, full
batch, when data.batch_size is null or not below the rows), the count Lightning's sampler gives
an epoch of the same rows, with or without replacement. As Lightning does: `max_epochs` with
`max_steps` ends at whichever comes first; a float `val_check_interval` validates every
int(batches x fraction) steps (at least one); `limit_train_batches` shortens each epoch
(int(batches x fraction), or a count); `check_val_every_n_epoch` validates every N epochs;
`min_epochs` becomes `min_steps`.
"""

from __future__ import annotations

import logging
import math

from omegaconf import DictConfig

from experiments.errors import ConfigError
from experiments.run.trainer_check import epoch_keys

log = logging.getLogger(__name__)


def batches_per_epoch(rows: int, batch_size: int | None) -> int:
    return 1 if batch_size is None or batch_size >= rows else math.ceil(rows / batch_size)


def _epoch_batches(limit: int | float | None, full: int) -> int:
    """`limit_train_batches` applied to an epoch of `full` batches."""
    if limit is None:
        return full
    batches = min(limit, full) if isinstance(limit, int) else int(full * limit)
    if batches < 1:
        raise ConfigError(
            f"trainer.limit_train_batches={limit} of an epoch of {full} batches is no batch: "
            "use a larger fraction, or a count of batches"
        )
    return batches


def to_steps(cfg: DictConfig, rows: int, batch_size: int | None) -> None:
    """Rewrite `cfg.trainer`'s epoch-counted keys as steps, in place, and say so in one line."""
    trainer = cfg.trainer
    if trainer.get("fast_dev_run") or not (said := epoch_keys(cfg)):
        return
    full = batches_per_epoch(rows, batch_size)
    epoch = _epoch_batches(trainer.get("limit_train_batches"), full)
    if (epochs := trainer.get("max_epochs")) not in (None, -1):
        by_epochs = epochs * epoch
        trainer.max_steps = (
            by_epochs if trainer.max_steps == -1 else min(trainer.max_steps, by_epochs)
        )
    if (min_epochs := trainer.get("min_epochs")) is not None:
        trainer.min_steps = max(trainer.get("min_steps") or 0, min_epochs * epoch)
    if isinstance(fraction := trainer.get("val_check_interval"), float):
        trainer.val_check_interval = max(1, int(epoch * fraction))
    if (every := trainer.get("check_val_every_n_epoch")) is not None:
        trainer.val_check_interval = every * epoch
    for key in ("max_epochs", "min_epochs", "check_val_every_n_epoch", "limit_train_batches"):
        if key in trainer:
            trainer[key] = None
    size = "null (full batch)" if batch_size is None else batch_size
    log.info(
        "%s: an epoch is %d batch%s (%d training rows, data.batch_size=%s): trainer.max_steps=%d, "
        "validation every %d step%s",
        " ".join(said),
        epoch,
        "" if epoch == 1 else "es",
        rows,
        size,
        trainer.max_steps,
        trainer.val_check_interval,
        "" if trainer.val_check_interval == 1 else "s",
    )
