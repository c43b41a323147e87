"""`scripts/benchmark.py`: speed figures measured side by side in one process, written to
`<root>/outputs/benchmark/` as markdown and JSON.

Everything is XOR 2-4-1 sigmoid, full batch, CPU, float32: the smallest lesson, where framework
overhead shows most. A raw loop's rate is N steps over its time; a Lightning run's is N steps over
the time from `on_train_start` to `on_train_end` (`StepClock`): every validation, log line,
checkpoint and histogram on the way counts; start-up, the final test and the pictures do not.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from experiments.benchmarks.loops import (
    plain_tensor_loop,
    rate,
    raw_autograd_loop,
    raw_manual_loop,
)
from experiments.benchmarks.runs import command_seconds, lightning_rate, startup_seconds


def main(root: Path) -> dict[str, float]:
    """Run every measurement from the repository at `root`; print and return the figures."""
    import logging

    from experiments.cli import silence_known_warnings

    logging.disable(logging.INFO)
    silence_known_warnings()
    torch.manual_seed(0)
    out = root / "outputs" / "benchmark"
    out.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    figures: dict[str, float] = {}
    # Steps/s move by ±20 % between runs here: medians of 3 rounds, each loop and the run it is
    # compared with taking turns, so a slow spell hits both sides of a ratio.
    measures: dict[str, Callable[[], float]] = {
        "raw manual loop": lambda: rate(raw_manual_loop),
        "scratch run": lambda: lightning_rate(root, "scratch", out),
        "raw autograd loop": lambda: rate(raw_autograd_loop),
        "mlp run": lambda: lightning_rate(root, "mlp", out),
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
        imports.append(command_seconds(root, [python, "-c", "import lightning"]))
        startups.append(startup_seconds(root, python, out / "startup"))
    figures["import lightning, s (median of 3)"] = statistics.median(imports)
    figures["train.py start-up to first step, s (median of 3)"] = statistics.median(startups)
    # A 64-point grid: 16 learning rates x 4 iteration counts. Job by job (basic launcher), timed
    # on one learning rate's row of 4 jobs and multiplied by 16; vectorized, the whole grid.
    steps = "trainer.max_steps=100,1000,3000,10000"
    row = command_seconds(
        root,
        [
            python,
            "scripts/train.py",
            "-m",
            "experiment=xor",
            "model.lr=0.5",
            steps,
            f"hydra.sweep.dir={out / 'grid_basic'}",
        ],
    )
    figures["64-point grid, basic launcher, s (16 x one row of 4)"] = 16 * row
    lrs = ",".join(f"{x:.3g}" for x in torch.logspace(-2, 1, 16).tolist())
    figures["64-point grid, vectorized, s"] = command_seconds(
        root,
        [
            python,
            "scripts/train.py",
            "-m",
            "experiment=xor",
            f"model.lr={lrs}",
            steps,
            "hydra/sweeper=vectorized",
            f"hydra.sweep.dir={out / 'grid_vectorized'}",
        ],
    )
    figures["one 10,000-step run, s"] = command_seconds(
        root,
        [
            python,
            "scripts/train.py",
            "experiment=xor",
            "trainer.max_steps=10000",
            f"hydra.run.dir={out / 'one'}",
        ],
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
