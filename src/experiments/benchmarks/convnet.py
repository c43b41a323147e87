"""A whole `experiment=digits_cnn` run's training rate, model=scratch against model=mlp: the
hand-written convnet (im2col Conv2d, max pooling, chain rule) against torch.nn + autograd, in
our own `train(cfg)` with its default logging, timed by the training loop's clock (`StepClock`).

The two models alternate round by round, so a slower moment of a shared machine falls on both;
the figures are medians over rounds (scripts/benchmark.py reports them):
`python -c "from experiments.benchmarks.convnet import main; main()"`.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from experiments.benchmarks.runs import clocked_run

ROOT = Path(__file__).resolve().parents[3]
TARGET = 0.5  # scratch's steps/s at least half of mlp's


def digits_cnn_rate(model: str, out: Path, steps: int, overrides: tuple[str, ...] = ()) -> float:
    """Steps per second of one `experiment=digits_cnn model=MODEL` run of `steps` steps."""
    keys = ["experiment=digits_cnn", f"model={model}", f"trainer.max_steps={steps}", *overrides]
    clock = clocked_run(ROOT, out / model, keys)
    return clock["steps"] / clock["training loop, s"]


def scratch_against_mlp(steps: int = 200, rounds: int = 3, overrides: tuple[str, ...] = ()):
    """{"scratch": steps/s, "mlp": steps/s, "ratio": scratch / mlp}, medians over `rounds`."""
    rates: dict[str, list[float]] = {"scratch": [], "mlp": []}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        digits_cnn_rate("scratch", out, steps // 10, overrides)  # warm-up: imports, first calls
        for _ in range(rounds):
            for model in rates:
                rates[model].append(digits_cnn_rate(model, out, steps, overrides))
    figures = {model: statistics.median(values) for model, values in rates.items()}
    return {**figures, "ratio": figures["scratch"] / figures["mlp"]}


def main() -> None:
    figures = scratch_against_mlp()
    verdict = "meets" if figures["ratio"] >= TARGET else "misses"
    print(
        f"digits_cnn steps/s: scratch {figures['scratch']:.1f}, mlp {figures['mlp']:.1f}, "
        f"ratio {figures['ratio']:.2f} ({verdict} the target >= {TARGET})"
    )
