"""A vectorized population stopped by a signal during training: checkpointed at a step boundary,
every grid point `interrupted`, a few console lines, exit status 1; the same command then
continues it to exactly the uninterrupted sweep's weights and metrics."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers import multirun, read_metrics, start_script

from experiments.sweeps.unfinished import unfinished_lines

pytestmark = pytest.mark.slow

# 20 learning rates x 50 seeds = 1,000 grid points (members), float64; 10,000 steps take a few
# seconds, and the first progress line comes at step 1,000, well before the end.
GRID = [
    "experiment=xor",
    "model.lr=range(1,21)",
    "seed=range(0,50)",
    "trainer.max_steps=10000",
    "trainer.precision=64-true",
    "hydra/sweeper=vectorized",
]
POINTS = 1000


def wait_for_training(log: Path, process, timeout: float = 120) -> None:
    """Until the population's log says it has trained some steps (and is not done)."""
    deadline = time.monotonic() + timeout
    while "members at step" not in (log.read_text() if log.exists() else ""):
        assert process.poll() is None, process.stdout.read()[-3000:]
        assert time.monotonic() < deadline, f"no training step logged in {log} in {timeout} s"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The same sweep, never interrupted."""
    folder = tmp_path_factory.mktemp("reference") / "sweep"
    whole = multirun(*GRID, sweep_dir=folder)
    assert whole.returncode == 0, (whole.stdout + whole.stderr)[-3000:]
    return folder


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signalled_population_checkpoints_and_the_same_command_continues_it_exactly(
    tmp_path, reference, sig
) -> None:
    sweep = tmp_path / "sweep"
    process = start_script("train.py", "-m", *GRID, f"hydra.sweep.dir={sweep}")
    wait_for_training(sweep / "population_0" / "train.log", process)
    process.send_signal(sig)
    output, _ = process.communicate(timeout=120)

    assert process.returncode == 1, output[-3000:]
    assert "Traceback" not in output and "never started" not in output, output[-3000:]
    assert len(output.splitlines()) <= 10, output[-3000:]  # counts, not a line per grid point
    (line,) = [line for line in output.splitlines() if "grid points interrupted" in line]
    assert f"{sig.name}: interrupted at step" in line and "run the same command again" in line
    statuses = {read_metrics(sweep / str(job))["status"] for job in range(POINTS)}
    assert statuses == {"interrupted"}
    summary = pd.read_csv(sweep / "summary.csv")
    assert len(summary) == POINTS and set(summary["status"]) == {"interrupted"}
    stopped = read_metrics(sweep / "0")["steps"]
    assert 0 < stopped < 10000, "stopped during training"
    assert (sweep / "population_0" / "checkpoints" / "last.ckpt").is_file()
    assert not list(sweep.glob("*/weights.pth")), "nothing that looks like a result"

    again = multirun(*GRID, sweep_dir=sweep)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]

    assert not (sweep / "population_0" / "checkpoints").exists(), "a completed population's"
    for job in range(POINTS):
        resumed, uninterrupted = read_metrics(sweep / str(job)), read_metrics(reference / str(job))
        assert resumed["status"] == "completed" and resumed["resumed_from_step"] == stopped
        for name, value in uninterrupted.items():
            if "/" in name:
                assert resumed[name] == pytest.approx(value, abs=1e-8), (job, name)
        got = torch.load(sweep / str(job) / "weights.pth", weights_only=True)
        expected = torch.load(reference / str(job) / "weights.pth", weights_only=True)
        for name, value in expected.items():
            assert (got[name] - value).abs().max() < 1e-8, (job, name)
    # The curves from step 0: what was recorded before the signal travelled in the checkpoint.
    curves, expected = pd.read_csv(sweep / "curves.csv"), pd.read_csv(reference / "curves.csv")
    assert curves.shape == expected.shape and curves["step"].min() < stopped
    pd.testing.assert_frame_equal(curves, expected, check_exact=False, atol=1e-8, rtol=0)


def test_many_unfinished_jobs_are_counted_in_a_line_per_status_and_error() -> None:
    table = pd.DataFrame(
        {
            "job": [*range(4000), 4001, 4003],
            "status": ["interrupted"] * 4000 + ["failed", "failed"],
            "error": ["SIGTERM at step 310 of 1000: ..."] * 4000 + ["disk full"] * 2,
        }
    )
    assert unfinished_lines(table) == [
        "4000 jobs interrupted (0-3999): SIGTERM at step 310 of 1000: ...",
        "2 jobs failed (4001, 4003): disk full",
    ]
    few = table.iloc[[0, 4000]]
    assert unfinished_lines(few) == [
        "job 0 interrupted: SIGTERM at step 310 of 1000: ...",
        "job 4001 failed: disk full",
    ]
