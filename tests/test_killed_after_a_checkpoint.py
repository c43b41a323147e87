"""A run killed just after a periodic checkpoint, and continued from it, shows every logged step
once in TensorBoard: the checkpoint step's training point reached the disk before the checkpoint
did, and its validation, which Lightning runs after the checkpoint, is written by the resumed run
when the event files lack it (`run.checkpoint_step`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import LOGGED, assert_same_weights, assert_steps_once
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from experiments.output.tensorboard import scalar_steps
from experiments.run.checkpoints import read_checkpoint
from experiments.run.resume import prepare_run
from experiments.run.training import train

# xor, 300 steps: train/loss every 3 steps, validation and a checkpoint every 30; TensorBoard on.
RUN = ["experiment=xor", "trainer.max_steps=300", *LOGGED]


def scalars(tensorboard: Path, tag: str) -> dict[int, float]:
    events = EventAccumulator(str(tensorboard))
    events.Reload()
    return {event.step: event.value for event in events.Scalars(tag)}


def killed_at_150(make_cfg, folder: Path, after: str = "checkpoint"):
    """`folder`: a run of RUN as the disk held it just after step 150's checkpoint (or its
    validation: `helpers.snapshots.DiskSnapshot`)."""
    snapshot = "+callbacks.snapshot."
    train(
        make_cfg(
            *RUN,
            f"{snapshot}_target_=helpers.snapshots.DiskSnapshot",
            f"{snapshot}step=150",
            f"{snapshot}folder={folder}",
            f"{snapshot}after={after}",
            quiet=False,
        )
    )
    assert read_checkpoint(folder / "checkpoints" / "last.ckpt")["global_step"] == 150
    assert not (folder / "metrics.json").exists()
    return folder


def continue_in(make_cfg, folder: Path) -> None:
    again = make_cfg(*RUN, quiet=False)
    again.output_dir = str(folder)
    assert train(prepare_run(again))["resumed_from_step"] == 150


def test_a_run_killed_after_a_checkpoint_continues_with_every_step_once(tmp_path, make_cfg) -> None:
    whole = make_cfg(*RUN, quiet=False)
    train(whole)
    killed = killed_at_150(make_cfg, tmp_path / "killed")
    assert 150 in scalar_steps(killed / "tensorboard")["train/loss"], (
        "on disk before the checkpoint"
    )

    continue_in(make_cfg, killed)
    assert_steps_once(killed / "tensorboard", "train/loss", every=3, last=300)
    assert_steps_once(killed / "tensorboard", "val/loss", every=30, last=300)
    for tag in ("train/loss", "val/loss"):
        expected = scalars(Path(whole.output_dir) / "tensorboard", tag)
        assert scalars(killed / "tensorboard", tag) == pytest.approx(expected, rel=1e-6), tag
    assert_same_weights(killed, whole.output_dir)


def test_a_checkpoint_steps_validation_already_on_disk_is_not_written_again(
    tmp_path, make_cfg
) -> None:
    """The earlier attempt got past that validation, and its writer flushed, before the kill."""
    killed = killed_at_150(make_cfg, tmp_path / "killed", after="validation")
    assert 150 in scalar_steps(killed / "tensorboard")["val/loss"]
    continue_in(make_cfg, killed)
    events = EventAccumulator(str(killed / "tensorboard"))
    events.Reload()
    steps = [event.step for event in events.Scalars("val/loss")]
    assert steps.count(150) == 1, steps
    assert_steps_once(killed / "tensorboard", "val/loss", every=30, last=300)
