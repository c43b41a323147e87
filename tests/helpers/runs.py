"""Reading and comparing what runs wrote."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def read_metrics(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "metrics.json").read_text())


def job_dirs(sweep_dir: Path) -> list[Path]:
    """A sweep's job folders, in job order."""
    jobs = (d for d in Path(sweep_dir).iterdir() if d.name.isdigit())
    return sorted(jobs, key=lambda d: int(d.name))


def assert_same_weights(run_dir: str | Path, reference_dir: str | Path) -> None:
    """The two runs saved bit-identical weights.pth."""
    expected = torch.load(Path(reference_dir) / "weights.pth", weights_only=True)
    got = torch.load(Path(run_dir) / "weights.pth", weights_only=True)
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.equal(got[name], value), name


def assert_steps_once(tensorboard: Path, tag: str, every: int, last: int) -> None:
    """TensorBoard's points of `tag` under `tensorboard` go forward, each step once, every `every`
    steps up to `last` (the final step's point is written twice, by training and with the HParams,
    at the same value): a resumed run shows no step twice."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tensorboard))
    events.Reload()
    steps = [event.step for event in events.Scalars(tag)]
    assert steps == sorted(steps), steps
    assert sorted(set(steps)) == list(range(every, last + 1, every)), steps


def non_trivial(png: Path) -> bool:
    """A real picture: big enough, and more than a few colours."""
    pixels = np.asarray(Image.open(png).convert("RGB"))
    return pixels.shape[0] > 100 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20
