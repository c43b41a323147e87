"""Speed figures measured side by side in one process: raw loops against our Lightning runs,
a 64-point grid, and start-up time. Written to outputs/benchmark/ as markdown and JSON.

Everything is XOR 2-4-1 sigmoid, full batch, CPU, float32: the smallest lesson, where framework
overhead shows most. A raw loop's rate is N steps over its time; a Lightning run's is N steps over
the time from `on_train_start` to `on_train_end` (`StepClock`): every validation, log line,
checkpoint and histogram on the way counts, start-up, the final test and the pictures do not.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from experiments.models import mlp as torch_layers
from experiments.models.architecture import Architecture, build_network
from experiments.models.scratch_layers import ACTIVATIONS, Linear, MSELoss, Sequential

ROOT = Path(__file__).resolve().parents[2]
XOR = (
    torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]),
    torch.tensor([[0.0], [1.0], [1.0], [0.0]]),
)
ARCH = Architecture(2, 1, (4,), "sigmoid", "sigmoid", True, "normal", 1.0)


STEPS = 10_000


def rate(run: Callable[[int], object], steps: int = STEPS) -> float:
    """Steps per second of `run(steps)`, after a short warm-up."""
    run(steps // 10)
    started = time.perf_counter()
    run(steps)
    return steps / (time.perf_counter() - started)


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


CLOCK = "+callbacks.clock._target_=experiments.benchmark.StepClock"


# The three loops below train the same network from the same draws of the random generator
# (tests/test_benchmark.py): each returns its last loss.


def raw_manual_loop(steps: int) -> float:
    """Our scratch layers without Lightning: what the scratch run is compared with."""
    net = build_network(ARCH, Linear, ACTIVATIONS, Sequential)
    mse, (x, y) = MSELoss(), XOR
    loss = torch.tensor(float("nan"))
    with torch.no_grad():
        for _ in range(steps):
            loss = mse.forward(net.forward(x), y)
            net.backward(mse.backward())
            for p in net.parameters():
                p -= 2.0 * p.grad
    return float(loss)


def plain_tensor_loop(steps: int) -> float:
    """The lessons' own style, for reference: four tensors and the chain rule written out flat."""
    x, y = XOR
    w1, b1, w2, b2 = torch.randn(4, 2), torch.randn(4), torch.randn(1, 4), torch.randn(1)
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        h = torch.sigmoid(x @ w1.T + b1)
        p = torch.sigmoid(h @ w2.T + b2)
        diff = p - y
        loss = (diff * diff).mean()
        grad_z2 = 2 * diff / diff.numel() * p * (1 - p)
        grad_z1 = grad_z2 @ w2 * h * (1 - h)
        w2 -= 2.0 * grad_z2.T @ h
        b2 -= 2.0 * grad_z2.sum(0)
        w1 -= 2.0 * grad_z1.T @ x
        b1 -= 2.0 * grad_z1.sum(0)
    return float(loss)


def raw_autograd_loop(steps: int) -> float:
    """`torch.nn` layers, autograd and SGD without Lightning: what the mlp run is compared with."""
    net = build_network(ARCH, torch_layers._linear, torch_layers.ACTIVATIONS, nn.Sequential)
    optimizer = torch.optim.SGD(net.parameters(), lr=2.0)
    x, y = XOR
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(net(x), y)
        loss.backward()
        optimizer.step()
    return float(loss.detach())


def lightning_rate(model: str, out: Path, steps: int = STEPS) -> float:
    """Steps per second of our train(cfg), default logging on (TensorBoard, checkpoints,
    histograms, progress bar), from its training loop's own clock."""
    from hydra import compose, initialize_config_dir

    from experiments.training import train

    def run(n: int) -> dict[str, float]:
        run_dir = out / f"{model}-{n}"
        shutil.rmtree(run_dir, ignore_errors=True)  # a fresh run each round, not a fuller folder
        with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
            cfg = compose(
                "train",
                overrides=[
                    "experiment=xor",
                    f"model={model}",
                    f"trainer.max_steps={n}",
                    "callbacks.progress_bar.refresh_rate=0",
                    CLOCK,
                    f"output_dir={run_dir}",
                ],
            )
        train(cfg)
        return json.loads((run_dir / "clock.json").read_text())

    run(steps // 10)  # warm-up
    clock = run(steps)
    return clock["steps"] / clock["training loop, s"]


def command_seconds(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def startup_seconds(python: str, run_dir: Path) -> float:
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
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return json.loads((run_dir / "clock.json").read_text())["to first step, s"]


def main() -> dict[str, float]:
    import logging

    from experiments.cli import silence_known_warnings

    logging.disable(logging.INFO)
    silence_known_warnings()
    torch.manual_seed(0)
    out = ROOT / "outputs" / "benchmark"
    out.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    figures: dict[str, float] = {}
    # Steps/s move by ±20 % between runs here: medians of 3 rounds, each loop and the run it is
    # compared with taking turns, so a slow spell hits both sides of a ratio.
    measures: dict[str, Callable[[], float]] = {
        "raw manual loop": lambda: rate(raw_manual_loop),
        "scratch run": lambda: lightning_rate("scratch", out),
        "raw autograd loop": lambda: rate(raw_autograd_loop),
        "mlp run": lambda: lightning_rate("mlp", out),
    }
    rounds: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(3):
        for name, measure in measures.items():
            rounds[name].append(measure())
    for name, values in rounds.items():
        figures[f"{name}, steps/s"] = statistics.median(values)
    figures["plain-tensor manual loop (reference), steps/s"] = rate(plain_tensor_loop)
    for ratio, run, loop in [
        ("scratch / raw manual", "scratch run", "raw manual loop"),
        ("mlp / raw autograd", "mlp run", "raw autograd loop"),
    ]:
        figures[ratio] = figures[f"{run}, steps/s"] / figures[f"{loop}, steps/s"]
        per_round = [r / raw for r, raw in zip(rounds[run], rounds[loop], strict=True)]
        figures[f"{ratio}, lowest round"] = min(per_round)

    # Start-up varies by a second or more from one process to the next here: medians of 3,
    # the two commands taking turns.
    imports, startups = [], []
    for _ in range(3):
        imports.append(command_seconds([python, "-c", "import lightning"]))
        startups.append(startup_seconds(python, out / "startup"))
    figures["import lightning, s (median of 3)"] = statistics.median(imports)
    figures["train.py start-up to first step, s (median of 3)"] = statistics.median(startups)
    # A 64-point grid: 16 learning rates x 4 iteration counts. Job by job (basic launcher), timed
    # on one learning rate's row of 4 jobs and multiplied by 16; vectorized, the whole grid.
    steps = "trainer.max_steps=100,1000,3000,10000"
    row = command_seconds(
        [
            python,
            "scripts/train.py",
            "-m",
            "experiment=xor",
            "model.lr=0.5",
            steps,
            f"hydra.sweep.dir={out / 'grid_basic'}",
        ]
    )
    figures["64-point grid, basic launcher, s (16 x one row of 4)"] = 16 * row
    lrs = ",".join(f"{x:.3g}" for x in torch.logspace(-2, 1, 16).tolist())
    figures["64-point grid, vectorized, s"] = command_seconds(
        [
            python,
            "scripts/train.py",
            "-m",
            "experiment=xor",
            f"model.lr={lrs}",
            steps,
            "hydra/sweeper=vectorized",
            f"hydra.sweep.dir={out / 'grid_vectorized'}",
        ]
    )
    figures["one 10,000-step run, s"] = command_seconds(
        [
            python,
            "scripts/train.py",
            "experiment=xor",
            "trainer.max_steps=10000",
            f"hydra.run.dir={out / 'one'}",
        ]
    )
    figures["vectorized grid / one longest run"] = (
        figures["64-point grid, vectorized, s"] / figures["one 10,000-step run, s"]
    )
    figures["start-up to first step - import lightning, s"] = (
        figures["train.py start-up to first step, s (median of 3)"]
        - figures["import lightning, s (median of 3)"]
    )

    lines = ["| figure | value |", "|---|---|", *(f"| {k} | {v:.3g} |" for k, v in figures.items())]
    (out / "benchmark.md").write_text("\n".join(lines) + "\n")
    (out / "benchmark.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("\n".join(lines))
    return figures
