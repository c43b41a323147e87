"""Our own runs, timed: the training loop's rate (`StepClock`), start-up to the first step, and
whole commands (sweeps)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback

from experiments.benchmarks.loops import STEPS


class StepClock(Callback):
    """Writes `<run>/clock.json`: the seconds from `launched` (a `time.time()` taken before the
    process started) to the first training step, and the training loop's own seconds."""

    def __init__(self, launched: float | None = None) -> None:
        self.launched = launched
        self.figures: dict[str, float] = {}

    def on_train_start(self, trainer: L.Trainer, pl_module) -> None:
        self.started = time.perf_counter()

    def on_train_batch_start(self, trainer: L.Trainer, pl_module, batch, batch_idx) -> None:
        if self.launched is not None and "to first step, s" not in self.figures:
            self.figures["to first step, s"] = time.time() - self.launched

    def on_train_end(self, trainer: L.Trainer, pl_module) -> None:
        self.figures["training loop, s"] = time.perf_counter() - self.started
        self.figures["steps"] = trainer.global_step
        clock = Path(trainer.default_root_dir) / "clock.json"
        clock.write_text(json.dumps(self.figures))


CLOCK = "+callbacks.clock._target_=experiments.benchmarks.runs.StepClock"


def clocked_run(root: Path, run_dir: Path, overrides: list[str]) -> dict[str, float]:
    """One `train(cfg)` into a fresh `run_dir` (the progress bar off), timed by `StepClock`."""
    from hydra import compose, initialize_config_dir

    from experiments.run.training import train

    shutil.rmtree(run_dir, ignore_errors=True)  # a fresh run each round, not a fuller folder
    with initialize_config_dir(str(root / "conf"), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                *overrides,
                "callbacks.progress_bar.refresh_rate=0",
                CLOCK,
                f"output_dir={run_dir}",
            ],
        )
    train(cfg)
    return json.loads((run_dir / "clock.json").read_text())


def lightning_rate(root: Path, model: str, out: Path, steps: int = STEPS) -> float:
    """Steps per second of our train(cfg), default logging on (TensorBoard, checkpoints,
    histograms, progress bar), from its training loop's own clock."""

    def run(n: int) -> dict[str, float]:
        overrides = ["experiment=xor", f"model={model}", f"trainer.max_steps={n}"]
        return clocked_run(root, out / f"{model}-{n}", overrides)

    run(steps // 10)  # warm-up
    clock = run(steps)
    return clock["steps"] / clock["training loop, s"]


def command_seconds(root: Path, args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=root, check=True, capture_output=True)
    return time.perf_counter() - started


def startup_seconds(root: Path, python: str, run_dir: Path) -> float:
    """From launching `python scripts/train.py` to its first training step."""
    args = [
        python,
        "scripts/train.py",
        "experiment=xor",
        "trainer.max_steps=1",
        f"hydra.run.dir={run_dir}",
    ]
    subprocess.run(
        [*args, CLOCK, f"+callbacks.clock.launched={time.time()}"],
        cwd=root,
        check=True,
        capture_output=True,
    )
    return json.loads((run_dir / "clock.json").read_text())["to first step, s"]
