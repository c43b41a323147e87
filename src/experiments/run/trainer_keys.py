"""Every argument of `lightning.Trainer`, and what a run does with it under `trainer.`.

The training stream is one endless epoch counted in optimizer steps (`data.batches`), so each
argument is one of:

- **honoured**: in conf/trainer/default.yaml, passed to Lightning with its documented meaning;
- **translated**: counted in epochs or fractions of one, turned into steps once the data is read
  (`run.epochs`);
- **product**: the run sets it itself (loggers, callbacks, plugins, the run folder): refused,
  naming the config that does it;
- **refused**: Lightning's meaning cannot hold in this loop: refused in one line, why and what to
  use instead, unless the value is Lightning's default (which changes nothing).

`tests/test_trainer_keys.py` compares `TRAINER_KEYS` with the live signature of
`lightning.pytorch.Trainer.__init__`, so an argument a new Lightning adds fails a test until it is
placed here. No torch or Lightning is imported: the checks run before them (`run.config`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from experiments.run import trainer_values as v

MANUAL = "both models update by hand (manual optimization)"


@dataclass(frozen=True)
class Key:
    """How a run treats one Trainer argument: `treatment` (see the module), the values it takes
    (`accepts`), and the rest of the one line for any other value (`use`)."""

    treatment: str
    accepts: Callable[[object], bool] = v.anything
    use: str = ""


def _product(use: str) -> Key:
    return Key("product", v.nothing, use)


def _refused(accepts: Callable[[object], bool], use: str) -> Key:
    return Key("refused", accepts, use)


TRAINER_KEYS: dict[str, Key] = {
    "accelerator": Key("honoured"),  # its values: run.config._check_trainer
    "strategy": Key("honoured"),  # with devices: loop.data_parallel.check
    "devices": Key("honoured"),
    "num_nodes": _refused(
        v.equals(1), "runs train on one machine: use trainer.devices=N trainer.strategy=ddp"
    ),
    "precision": Key("honoured"),
    "logger": _product("the run builds its loggers from logger=: use logger=tensorboard|csv|none"),
    "callbacks": _product(
        "the run builds its callbacks from callbacks=: use callbacks=default|none, or "
        "+callbacks.NAME={_target_: ...} to add one"
    ),
    "fast_dev_run": Key("honoured", v.count_or_bool, "use true, false or a number of steps"),
    "max_epochs": Key("translated", v.epoch_limit, "use a positive integer (or -1 or null)"),
    "min_epochs": Key("translated", v.int_at_least(0, none=True), "use an integer >= 0 or null"),
    "max_steps": Key(
        "honoured", v.max_steps, "use a positive integer, or -1 with trainer.max_epochs=N"
    ),
    "min_steps": Key("honoured", v.int_at_least(0, none=True), "use an integer >= 0 or null"),
    "max_time": Key("honoured", v.max_time, 'use "DD:HH:MM:SS", {days: 0, hours: 1} or null'),
    "limit_train_batches": Key(
        "translated", v.limit, "use a fraction in (0, 1] of an epoch's batches, or a count"
    ),
    "limit_val_batches": _refused(
        v.whole_split,
        "validation is one batch of the whole validation split: use 1.0 (or null); to validate "
        "less often use trainer.val_check_interval",
    ),
    "limit_test_batches": _refused(
        v.whole_split, "the test is one batch of the whole test split: use 1.0 (or null)"
    ),
    "limit_predict_batches": _refused(
        v.whole_split, "prediction takes every row given: use 1.0 (or null)"
    ),
    "overfit_batches": _refused(
        v.zero,
        "the training stream draws from the whole training split: to fit a few rows, give "
        "them as the data (data.path=FILE) with data.batch_size=null",
    ),
    "val_check_interval": Key(
        "translated", v.interval, "use a fraction in (0, 1] of an epoch, or a number of steps"
    ),
    "check_val_every_n_epoch": Key(
        "translated", v.int_at_least(1, none=True), "use a positive integer or null"
    ),
    "num_sanity_val_steps": Key("honoured", v.int_at_least(-1), "use an integer >= -1"),
    "log_every_n_steps": Key("honoured", v.int_at_least(1), "use a positive integer"),
    "enable_checkpointing": Key("honoured", v.flag, "use true, false or null"),
    "enable_progress_bar": Key("honoured", v.flag, "use true, false or null"),
    "enable_model_summary": Key("honoured", v.flag, "use true, false or null"),
    "accumulate_grad_batches": _refused(
        v.equals(1),
        f"{MANUAL}, where Lightning does not accumulate: for N batches' gradient in one update, "
        "multiply data.batch_size by N",
    ),
    "gradient_clip_val": _refused(v.no_clip, f"{MANUAL}, where Lightning does not clip; remove it"),
    "gradient_clip_algorithm": _refused(
        v.none, f"{MANUAL}, where Lightning does not clip; remove it"
    ),
    "deterministic": Key("honoured", v.deterministic, 'use true, false, "warn" or null'),
    "benchmark": Key("honoured", v.flag, "use true, false or null"),
    "inference_mode": Key("honoured", v.boolean, "use true or false"),
    "use_distributed_sampler": _product(
        "data-parallel runs split each batch across ranks themselves (loop.data_parallel); "
        "remove it"
    ),
    "profiler": Key("honoured", v.profiler, "use simple, advanced, pytorch or null"),
    "detect_anomaly": Key("honoured", v.boolean, "use true or false"),
    "barebones": _refused(
        v.false,
        "the models log their metrics with self.log, which barebones forbids: for speed use "
        "callbacks=none logger=none",
    ),
    "plugins": _product(
        "the run sets its own (atomic checkpoint writes, SLURM signals): use trainer.precision "
        "for precision"
    ),
    "sync_batchnorm": _refused(v.false, "the networks have no batch-norm layers; remove it"),
    "reload_dataloaders_every_n_epochs": _refused(
        v.zero, "the training stream is drawn from tensors already in memory: nothing to reload"
    ),
    "default_root_dir": _product(
        "the run folder is hydra.run.dir (hydra.sweep.dir in a sweep): use hydra.run.dir=PATH"
    ),
    "enable_autolog_hparams": Key("honoured", v.boolean, "use true or false"),
    "model_registry": _refused(
        v.none,
        "uploads to Lightning's model registry are not supported: the weights are in "
        "the run folder (weights.pth, checkpoints/)",
    ),
}

# Keys of a trainer config that are not Trainer arguments: Hydra's own.
NOT_ARGUMENTS = ("_target_",)


def refusal(key: str, value: object) -> str | None:
    """The one line for `trainer.<key>=<value>`, or None where the run takes it."""
    if key in NOT_ARGUMENTS:
        return None
    if (entry := TRAINER_KEYS.get(key)) is None:
        return f"trainer.{key}={v.shown(value)} is {not_an_argument(key)}"
    if entry.accepts(value):
        return None
    if entry.treatment == "product":
        return f"trainer.{key} is set by the run itself: {entry.use}"
    verdict = "is not supported" if entry.treatment == "refused" else "is not allowed"
    return f"trainer.{key}={v.shown(value)} {verdict}: {entry.use}"


def not_an_argument(key: str) -> str:
    """`not an argument of lightning.Trainer: did you mean trainer.max_epochs?`."""
    near = difflib.get_close_matches(key, TRAINER_KEYS, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(f'trainer.{k}' for k in near)}?" if near else ""
    return "not an argument of lightning.Trainer" + (f": {hint}" if hint else "")


def unknown_key_line(key: str) -> str | None:
    """What `trainer.<key>=...` gets when conf/trainer lacks the key (Hydra cannot compose it):
    a Trainer argument that is refused or set by the run says why; None for a key that is not a
    Trainer argument (the caller names the nearest). Never a `+` to add it: every argument the
    run honours is in the config already."""
    if (entry := TRAINER_KEYS.get(key)) is None:
        return None
    if entry.treatment == "product":
        return f"trainer.{key} is set by the run itself: {entry.use}"
    if entry.treatment == "refused":
        return f"trainer.{key} other than Lightning's default is not supported: {entry.use}"
    return f"trainer.{key} is missing from this trainer config: add it as +trainer.{key}=VALUE"
