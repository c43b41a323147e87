"""Every `lightning.Trainer` argument, honoured with Lightning's meaning (epochs translated to
steps) or refused in one line: the table against the live signature, a row per argument, and
the runs that show the meaning (epochs, validation by fraction, smoke runs, no checkpoint)."""

from __future__ import annotations

import csv
import inspect
import math
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import yaml
from helpers import CONF, run_cli
from helpers.trainer_args import REFUSED
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import OmegaConf

from experiments.errors import ConfigError
from experiments.job import Job
from experiments.run import epochs
from experiments.run.build import build_data
from experiments.run.config import check_config
from experiments.run.entry import one_line
from experiments.run.trainer import make_trainer
from experiments.run.trainer_check import check_population_keys
from experiments.run.trainer_keys import TRAINER_KEYS
from experiments.run.training import train

SIGNATURE = [k for k in inspect.signature(pl.Trainer.__init__).parameters if k != "self"]
DEFAULT_YAML = yaml.safe_load((CONF / "trainer" / "default.yaml").read_text())
IN_CONFIG = ("honoured", "translated")

# Honoured: a value the run takes, and what the built Trainer shows of it (rows=100,
# data.batch_size=10 for the translated keys: an epoch is 10 batches).
HONOURED = {
    "accelerator": ("cpu", lambda t: type(t.accelerator).__name__ == "CPUAccelerator"),
    "strategy": ("auto", lambda t: t.world_size == 1),
    "devices": (1, lambda t: t.num_devices == 1),
    "precision": ("64-true", lambda t: t.precision == "64-true"),
    "fast_dev_run": (2, lambda t: t.fast_dev_run == 2 and t.max_steps == 2),
    "max_epochs": (2, lambda t: t.max_steps == 20),
    "min_epochs": (3, lambda t: t.fit_loop.min_steps == 30),
    "max_steps": (50, lambda t: t.max_steps == 50),
    "min_steps": (7, lambda t: t.fit_loop.min_steps == 7),
    "max_time": ("{minutes: 1}", lambda t: _timer(t) == 60),
    "limit_train_batches": (0.5, lambda t: t.max_steps == 10),  # with max_epochs=2, below
    "val_check_interval": (0.5, lambda t: t.val_check_interval == 5),
    "check_val_every_n_epoch": (2, lambda t: t.val_check_interval == 20),
    "num_sanity_val_steps": (1, lambda t: t.num_sanity_val_steps == 1),
    "log_every_n_steps": (5, lambda t: t.log_every_n_steps == 5),
    "enable_checkpointing": (False, lambda t: t.checkpoint_callback is None),
    "enable_progress_bar": (False, lambda t: t.progress_bar_callback is None),
    "enable_model_summary": (
        True,
        lambda t: any("ModelSummary" in type(c).__name__ for c in t.callbacks),
    ),
    "deterministic": (True, lambda t: torch.are_deterministic_algorithms_enabled()),
    "benchmark": (True, lambda t: torch.backends.cudnn.benchmark is True),
    "inference_mode": (False, lambda t: t.predict_loop.inference_mode is False),
    "profiler": ("simple", lambda t: type(t.profiler).__name__ == "SimpleProfiler"),
    "detect_anomaly": (True, lambda t: t._detect_anomaly is True),
    "enable_autolog_hparams": (False, lambda t: t.enable_autolog_hparams is False),
}


def _timer(trainer) -> float | None:
    """The seconds of the trainer's `Timer` (what `max_time` adds), None without one."""
    timers = [c for c in trainer.callbacks if type(c).__name__ == "Timer"]
    return timers[0]._duration if timers else None


EXTRA = {"limit_train_batches": ["trainer.max_epochs=2", "trainer.max_steps=-1"]}


def _compose(*overrides: str, out: Path):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("train", overrides=["experiment=xor", *overrides, f"output_dir={out}"])


def test_the_table_is_lightnings_signature() -> None:
    """A Trainer argument a new Lightning adds fails here until run.trainer_keys places it."""
    assert sorted(TRAINER_KEYS) == sorted(SIGNATURE)
    assert sorted(HONOURED) == sorted(
        k for k in SIGNATURE if TRAINER_KEYS[k].treatment in IN_CONFIG
    )
    assert sorted(REFUSED) == sorted(k for k in SIGNATURE if k not in HONOURED)


def test_every_honoured_key_is_in_the_config_so_no_plus_is_needed() -> None:
    honoured = {k for k, e in TRAINER_KEYS.items() if e.treatment in IN_CONFIG}
    assert set(DEFAULT_YAML) - {"_target_"} == honoured


@pytest.fixture
def torch_flags():
    """`deterministic` and `benchmark` set torch's global flags: put back after the test."""
    yield
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.benchmark = False


@pytest.mark.parametrize("key", SIGNATURE)
@pytest.mark.usefixtures("torch_flags")
def test_each_trainer_argument_is_honoured_or_refused_in_one_line(tmp_path, key: str) -> None:
    if key in HONOURED:
        value, shows = HONOURED[key]
        typed = str(value).lower() if isinstance(value, bool) else value
        cfg = _compose("~logger", *EXTRA.get(key, []), f"trainer.{key}={typed}", out=tmp_path)
        check_config(cfg)
        epochs.to_steps(cfg, rows=100, batch_size=10)
        assert shows(make_trainer(cfg, tmp_path, [])), f"trainer.{key}={typed} not honoured"
        return
    value = REFUSED[key]
    typed = str(value).lower() if isinstance(value, bool) else value
    with pytest.raises(HydraException) as composing:  # typed as Lightning users type it
        _compose(f"trainer.{key}={typed}", out=tmp_path)
    line = one_line(composing.value)
    assert line.startswith(f"trainer.{key}={typed}: trainer.{key} "), line
    assert "\n" not in line and "+trainer" not in line, line
    cfg = _compose(f"+trainer.{key}={typed}", out=tmp_path)  # and with a `+`
    with pytest.raises(ConfigError) as checking:
        check_config(cfg)
    assert str(checking.value).startswith(f"trainer.{key}") and "\n" not in str(checking.value)
    if TRAINER_KEYS[key].treatment == "refused":  # Lightning's own default changes nothing
        default = inspect.signature(pl.Trainer.__init__).parameters[key].default
        assert TRAINER_KEYS[key].accepts(default)


def test_a_key_lightning_lacks_gets_the_nearest_and_no_plus(tmp_path) -> None:
    with pytest.raises(HydraException) as composing:
        _compose("trainer.max_epoch=3", out=tmp_path)
    line = one_line(composing.value)
    assert "did you mean trainer.max_epochs" in line and "+trainer" not in line, line
    cfg = _compose("+trainer.max_epoch=3", out=tmp_path)
    with pytest.raises(
        ConfigError,
        match=r"not an argument of lightning\.Trainer: did you mean trainer\.max_epochs",
    ):
        check_config(cfg)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["trainer.max_steps=-1"], "trainer.max_steps=-1 (no step limit) needs trainer.max_epochs"),
        (["trainer.max_epochs=0"], "trainer.max_epochs=0 is not allowed"),
        (["trainer.val_check_interval=1.5"], "trainer.val_check_interval=1.5 is not allowed"),
        (["trainer.limit_train_batches=0.5"], "shortens each epoch, but this run counts steps"),
        (
            ["trainer.check_val_every_n_epoch=2", "trainer.val_check_interval=10"],
            "give one of them",
        ),
        (["trainer.max_time=soon"], "trainer.max_time='soon' is not allowed"),
    ],
)
def test_what_cannot_be_translated_is_one_line(tmp_path, overrides, message) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_config(_compose(*overrides, out=tmp_path))


def test_a_smoke_run_in_a_sweep_and_epochs_in_a_population_are_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match="a smoke run writes no results for the sweep"):
        check_config(_compose("trainer.fast_dev_run=true", out=tmp_path), Job(multirun=True))
    with pytest.raises(ConfigError, match="a vectorized population counts steps only"):
        check_population_keys(_compose("trainer.max_epochs=2", out=tmp_path))


def _batches_per_epoch(cfg) -> int:
    datamodule = build_data(cfg)
    return math.ceil(len(datamodule.splits.x_train) / cfg.data.batch_size)


@pytest.mark.parametrize(
    "epochs_, steps, expect",
    [(3, -1, lambda b: 3 * b), (3, 5, lambda b: 5), (2, 1000, lambda b: 2 * b)],
    ids=["epochs only", "max_steps first", "max_epochs first"],
)
def test_max_epochs_trains_epochs_times_batches(make_cfg, epochs_, steps, expect) -> None:
    cfg = make_cfg(
        "experiment=iris",
        "data.batch_size=16",
        f"trainer.max_epochs={epochs_}",
        f"trainer.max_steps={steps}",
    )
    batches = _batches_per_epoch(cfg)
    assert batches > 1
    record = train(cfg)
    assert record["status"] == "completed" and record["steps"] == expect(batches)


def test_val_check_interval_as_a_fraction_validates_at_those_steps(make_cfg) -> None:
    cfg = make_cfg(
        "experiment=iris",
        "data.batch_size=16",
        "trainer.val_check_interval=0.5",
        "trainer.max_epochs=2",
        "trainer.max_steps=-1",
        "logger=csv",
        "trainer.log_every_n_steps=1",
        "callbacks=none",
        quiet=False,
    )
    batches = _batches_per_epoch(cfg)
    every = max(1, int(batches * 0.5))
    train(cfg)
    with open(Path(cfg.output_dir) / "metrics.csv") as rows:
        validated = sorted({int(r["step"]) for r in csv.DictReader(rows) if r.get("val/loss")})
    assert validated == list(range(every, 2 * batches + 1, every)), (batches, validated)


def _run_files(run_dir: Path) -> set[str]:
    return {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_fast_dev_run_writes_nothing_that_looks_like_a_result(tmp_path) -> None:
    run_dir = tmp_path / "run"
    done = run_cli("experiment=xor", "trainer.fast_dev_run=true", run_dir=run_dir)
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "Traceback" not in output, output[-2000:]
    assert "trainer.fast_dev_run=true: a smoke run (1 step," in output, output[-2000:]
    files = {f for f in _run_files(run_dir) if not f.startswith(".hydra/")}
    assert files == {"train.log"}, files


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides",
    [["callbacks=none"], ["debug=fast"], ["trainer.enable_checkpointing=false"]],
    ids=["callbacks=none", "debug=fast", "enable_checkpointing=false"],
)
def test_no_checkpoint_anywhere_and_no_progress_bar_in_a_pipe(tmp_path, overrides) -> None:
    run_dir = tmp_path / "run"
    done = run_cli("experiment=xor", "trainer.max_steps=40", *overrides, run_dir=run_dir)
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    files = _run_files(run_dir)
    assert "metrics.json" in files and not [f for f in files if f.endswith(".ckpt")], files
    assert "it/s" not in done.stdout and "Training" not in done.stdout, done.stdout[-2000:]
    assert "it/s" not in done.stderr, done.stderr[-2000:]


def test_an_explicit_progress_bar_shows_even_in_a_pipe(tmp_path) -> None:
    cfg = _compose("callbacks=none", "trainer.enable_progress_bar=true", out=tmp_path)
    trainer = make_trainer(cfg, tmp_path, [])
    assert trainer.progress_bar_callback is not None
    assert trainer.progress_bar_callback.is_enabled
    assert OmegaConf.select(cfg, "trainer.enable_checkpointing") is None
    assert trainer.checkpoint_callback is None  # callbacks=none: none configured, none added
