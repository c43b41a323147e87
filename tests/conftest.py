"""Shared fixtures: configs composed in-process. Shared helpers live in tests/helpers/."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import CONF, QUIET
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

import experiments  # noqa: F401  (registers the config resolvers)


def pytest_configure(config: pytest.Config) -> None:
    """pytest-xdist's workers share the machine's cores: one thread each, in every process a test
    starts too. torch's default, a thread per core in each process, oversubscribes the cores, and
    its threads then wait on each other at every parallel op (a population's steps measured 7-12x
    slower while another process held a core)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(1)


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


@pytest.fixture
def float64_seed0():
    """float64 as torch's default dtype and torch's seed 0, for the test; the dtype restored."""
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(previous)
