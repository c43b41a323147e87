"""Shared fixtures: configs composed in-process. Shared helpers live in tests/helpers/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import CONF, QUIET
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

import experiments  # noqa: F401  (registers the config resolvers)


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
