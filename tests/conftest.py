"""Shared fixtures: configs composed in-process, and the CLI run as a user types it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

import experiments  # noqa: F401  (registers the config resolvers)

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

# In-process runs that only need metrics: no checkpoints, no progress bar, no TensorBoard.
QUIET = ["callbacks=none", "~logger", "+trainer.enable_progress_bar=false"]


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose conf/train.yaml with overrides; each call gets its own output dir."""
    counter = iter(range(10_000))

    def _make(*overrides: str, quiet: bool = True) -> DictConfig:
        out = tmp_path / f"run{next(counter)}"
        extra = QUIET if quiet else []
        with initialize_config_dir(str(CONF), version_base="1.3"):
            return compose("train", overrides=[*extra, *overrides, f"output_dir={out}"])

    return _make


def run_cli(
    *args: str, run_dir: Path, script: str = "train.py", timeout: int = 120
) -> subprocess.CompletedProcess:
    """`python scripts/<script> ARGS` in the repo root, writing its run into run_dir."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *args, f"hydra.run.dir={run_dir}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def assert_same_weights(run_dir: str | Path, reference_dir: str | Path) -> None:
    """The two runs saved bit-identical weights.pth."""
    expected = torch.load(Path(reference_dir) / "weights.pth", weights_only=True)
    got = torch.load(Path(run_dir) / "weights.pth", weights_only=True)
    for name, value in expected.items():
        assert torch.equal(got[name], value), name
