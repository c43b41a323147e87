"""Speed figures measured side by side in one process: raw loops against our Lightning runs,
a 64-point grid, and start-up time. Written to outputs/benchmark/ as markdown and JSON.

Everything is XOR 2-4-1 sigmoid, full batch, CPU, float32: the smallest lesson, where framework
overhead shows most. Each rate is taken from two run lengths, (N2 - N1) / (t2 - t1), so fixed
costs (start-up, validation at the end, test, pictures) cancel out.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
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


def rate(run: Callable[[int], None], short: int, long: int) -> float:
    """Steps per second of `run(n)`, from the difference of two lengths (fixed costs cancel)."""
    timings = []
    for n in (short, long):
        started = time.perf_counter()
        run(n)
        timings.append(time.perf_counter() - started)
    return (long - short) / max(timings[1] - timings[0], 1e-9)


def raw_manual_loop(steps: int) -> None:
    net = build_network(ARCH, Linear, ACTIVATIONS, Sequential)
    loss, (x, y) = MSELoss(), XOR
    with torch.no_grad():
        for _ in range(steps):
            loss.forward(net.forward(x), y)
            net.backward(loss.backward())
            for p in net.parameters():
                p -= 2.0 * p.grad


def raw_autograd_loop(steps: int) -> None:
    net = build_network(ARCH, torch_layers._linear, torch_layers.ACTIVATIONS, nn.Sequential)
    optimizer = torch.optim.SGD(net.parameters(), lr=2.0)
    x, y = XOR
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.mse_loss(net(x), y).backward()
        optimizer.step()


def lightning_run(model: str, out: Path) -> Callable[[int], None]:
    """Our train(cfg), default logging on (TensorBoard, checkpoints, histograms, pictures)."""
    from hydra import compose, initialize_config_dir

    from experiments.training import train

    def run(steps: int) -> None:
        with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
            cfg = compose(
                "train",
                overrides=[
                    "experiment=xor",
                    f"model={model}",
                    f"trainer.max_steps={steps}",
                    "callbacks.progress_bar.refresh_rate=0",
                    f"output_dir={out / f'{model}-{steps}'}",
                ],
            )
        train(cfg)

    return run


def command_seconds(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


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
    figures["raw manual loop, steps/s"] = rate(raw_manual_loop, 2_000, 12_000)
    figures["raw autograd loop, steps/s"] = rate(raw_autograd_loop, 2_000, 12_000)
    figures["scratch run, steps/s"] = rate(lightning_run("scratch", out), 1_000, 5_000)
    figures["mlp run, steps/s"] = rate(lightning_run("mlp", out), 1_000, 5_000)
    figures["scratch / raw manual"] = (
        figures["scratch run, steps/s"] / figures["raw manual loop, steps/s"]
    )
    figures["mlp / raw autograd"] = (
        figures["mlp run, steps/s"] / figures["raw autograd loop, steps/s"]
    )

    figures["import lightning, s"] = command_seconds([python, "-c", "import lightning"])
    # One step, nothing else: an upper bound of the start-up to the first step.
    one_step = ["experiment=xor", "trainer.max_steps=1", "callbacks=none", "~logger"]
    figures["train.py with 1 step, s"] = command_seconds(
        [python, "scripts/train.py", *one_step, f"hydra.run.dir={out / 'startup'}"]
    )
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
        figures["train.py with 1 step, s"] - figures["import lightning, s"]
    )

    lines = ["| figure | value |", "|---|---|", *(f"| {k} | {v:.3g} |" for k, v in figures.items())]
    (out / "benchmark.md").write_text("\n".join(lines) + "\n")
    (out / "benchmark.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("\n".join(lines))
    return figures
