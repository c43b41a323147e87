"""`scripts/benchmark.py`: speed figures measured side by side in one process, written to
`<root>/outputs/benchmark/` as markdown and JSON.

Everything is XOR 2-4-1 sigmoid, full batch, CPU, float32: the smallest lesson, where framework
overhead shows most. A raw loop's rate is N steps over its time; a Lightning run's is N steps over
the time from `on_train_start` to `on_train_end` (`StepClock`): every validation, log line,
checkpoint and histogram on the way counts; start-up, the final test and the pictures do not.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from experiments.benchmarks.conv import conv_figures
from experiments.benchmarks.convnet import scratch_against_mlp
from experiments.benchmarks.convnet_population import arithmetic_figures, sweep_figures
from experiments.benchmarks.grids import ordinary_run, vectorized_grid
from experiments.benchmarks.loading import loading_figures
from experiments.benchmarks.loops import (
    plain_tensor_loop,
    rate,
    raw_autograd_loop,
    raw_manual_loop,
)
from experiments.benchmarks.population import population_figures
from experiments.benchmarks.runs import command_seconds, lightning_rate, startup_seconds


def single_runs(root: Path, out: Path) -> dict[str, float]:
    """Steps/s of our runs against the raw loops. They move by +-20 % between runs here: medians
    of 3 rounds, each loop and the run it is compared with taking turns, so a slow spell hits
    both sides of a ratio."""
    measures: dict[str, Callable[[], float]] = {
        "plain-tensor manual loop": lambda: rate(plain_tensor_loop),
        "raw manual loop": lambda: rate(raw_manual_loop),
        "scratch run": lambda: lightning_rate(root, "scratch", out),
        "raw autograd loop": lambda: rate(raw_autograd_loop),
        "mlp run": lambda: lightning_rate(root, "mlp", out),
    }
    rounds: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(3):
        for name, measure in measures.items():
            rounds[name].append(measure())
    figures = {f"{name}, steps/s": statistics.median(v) for name, v in rounds.items()}
    for ratio, run, loop in [
        ("scratch / plain-tensor loop", "scratch run", "plain-tensor manual loop"),
        ("scratch / raw manual", "scratch run", "raw manual loop"),
        ("mlp / raw autograd", "mlp run", "raw autograd loop"),
    ]:
        figures[ratio] = figures[f"{run}, steps/s"] / figures[f"{loop}, steps/s"]
        per_round = [r / raw for r, raw in zip(rounds[run], rounds[loop], strict=True)]
        figures[f"{ratio}, lowest round"] = min(per_round)
    return figures


def startup(root: Path, python: str, out: Path) -> dict[str, float]:
    """Start-up varies by a second or more from one process to the next here: medians of 3,
    the two commands taking turns."""
    imports, startups = [], []
    for _ in range(3):
        imports.append(command_seconds(root, [python, "-c", "import lightning"]))
        startups.append(startup_seconds(root, python, out / "startup"))
    figures = {
        "import lightning, s (median of 3)": statistics.median(imports),
        "train.py start-up to first step, s (median of 3)": statistics.median(startups),
    }
    figures["start-up to first step - import lightning, s"] = (
        figures["train.py start-up to first step, s (median of 3)"]
        - figures["import lightning, s (median of 3)"]
    )
    return figures


def grids(root: Path, python: str, out: Path) -> dict[str, float]:
    """Vectorized sweeps beside one ordinary run of their longest member."""
    one = statistics.median(ordinary_run(root, python, out / "one", 10_000) for _ in range(3))
    figures = {"one ordinary 10,000-step run, s (median of 3)": one}
    for name, lrs, seeds, steps in [
        ("64-point grid (16 lr x 4 iteration counts)", 16, 1, "100,1000,3000,10000"),
        ("1,024-point grid (64 lr x 16 seeds)", 64, 16, "10000"),
        ("10,000 members (100 lr x 100 seeds)", 100, 100, "10000"),
    ]:
        measured = vectorized_grid(root, python, out / f"grid_{lrs}x{seeds}", lrs, seeds, steps)
        figures.update({f"{name}: {phase}": value for phase, value in measured.items()})
        figures[f"{name} / one run"] = measured["whole sweep, s"] / one
    return figures


def main(root: Path) -> dict[str, float]:
    """Run every measurement from the repository at `root`; print and return the figures."""
    import logging

    from experiments.cli import silence_known_warnings

    logging.disable(logging.INFO)
    silence_known_warnings()
    torch.manual_seed(0)
    out = root / "outputs" / "benchmark"
    out.mkdir(parents=True, exist_ok=True)
    # An earlier benchmark's sweeps, deleted minutes before this one's are timed: deleting
    # 10,000 job folders slows this disk's next writes (ext4 with `discard`) for a while.
    for old in out.glob("grid_*"):
        shutil.rmtree(old)
    python = sys.executable
    figures = {
        **single_runs(root, out),
        **startup(root, python, out),
        **grids(root, python, out),
        **population_figures(),
        **conv_figures(),
        **{f"digits_cnn run, {k}": v for k, v in scratch_against_mlp().items()},
        **arithmetic_figures(),
        **sweep_figures(out),
        **loading_figures(out),
    }
    lines = ["| figure | value |", "|---|---|", *(f"| {k} | {v:.3g} |" for k, v in figures.items())]
    (out / "benchmark.md").write_text("\n".join(lines) + "\n")
    (out / "benchmark.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("\n".join(lines))
    return figures
