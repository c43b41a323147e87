"""Several optimizer updates per Lightning batch: the same run, step for step, as one update per
batch; every interval (validation, logging, checkpoints, TensorBoard's x-axis) in steps."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import LOGGED, assert_same_weights, read_metrics
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from experiments.errors import ConfigError, DivergedError
from experiments.loop.chunking import chunk_size as updates_per_batch
from experiments.run.checkpoints import read_checkpoint
from experiments.run.training import train

DATA = {
    "full batch": ["experiment=xor"],
    "shuffled mini-batches": ["experiment=heart", "data.batch_size=16", "model.hidden=[4]"],
    "rows drawn with replacement": ["experiment=heart_lesson"],
}


def scalar_steps(run_dir: str, tag: str) -> list[int]:
    """Steps of a TensorBoard scalar, without the final values sent again with the HParams."""
    # One event file a run: several written in one second would be read in the text order of
    # their counters (`.100` before `.99`), and TensorBoard drops steps it reads out of order.
    (events,) = Path(run_dir).glob("tensorboard/**/events.out.tfevents.*")
    accumulator = EventAccumulator(str(events))
    accumulator.Reload()
    return [event.step for event in accumulator.Scalars(tag)][:-1]


@pytest.mark.parametrize(
    ("max_steps", "overrides", "expected"),
    [
        (100, [], 1),  # logging every step
        (1000, [], 10),
        (999, [], 1),  # every chunk is whole: it divides max_steps too
        (10_000, [], 100),
        (100_000, [], 100),  # at most 100
        (1000, ["callbacks.last_checkpoint.every_n_train_steps=25"], 5),
        (1000, ["updates_per_batch=5"], 5),
        (1000, ["trainer.log_every_n_steps=0"], 100),  # no logging: validation every 100
    ],
)
def test_auto_divides_every_step_interval(make_cfg, max_steps, overrides, expected) -> None:
    cfg = make_cfg(f"trainer.max_steps={max_steps}", "callbacks=default", *overrides)
    assert updates_per_batch(cfg) == expected


@pytest.mark.parametrize(("done", "expected"), [(0, 20), (1000, 20), (1010, 10), (1005, 5)])
def test_a_resumed_run_chunks_from_the_checkpoint_step(make_cfg, done, expected) -> None:
    cfg = make_cfg("trainer.max_steps=2000", "callbacks=default")
    assert updates_per_batch(cfg, done) == expected


@pytest.mark.parametrize("value", [3, 0, "many"])
def test_a_count_that_breaks_an_interval_is_refused(make_cfg, value) -> None:
    cfg = make_cfg("trainer.max_steps=1000", f"updates_per_batch={value}")
    with pytest.raises(ConfigError, match=f"updates_per_batch={value!r}|updates_per_batch={value}"):
        updates_per_batch(cfg)


@pytest.mark.parametrize("model", ["scratch", "mlp"])
@pytest.mark.parametrize("overrides", DATA.values(), ids=DATA.keys())
def test_chunked_run_equals_one_update_per_batch(make_cfg, model, overrides) -> None:
    def run(per_batch: str):
        cfg = make_cfg(
            *LOGGED, *overrides, f"model={model}", "trainer.max_steps=1000",
            f"updates_per_batch={per_batch}", quiet=False,
        )  # fmt: skip
        return cfg, train(cfg)

    (one, one_record), (chunked, record) = run("1"), run("auto")
    assert updates_per_batch(chunked) == 10
    assert record["steps"] == one_record["steps"] == 1000
    assert_same_weights(chunked.output_dir, one.output_dir)
    assert {**record, "seconds": 0} == {**one_record, "seconds": 0}
    assert "step" not in record, "the x-axis is not a metric"
    # TensorBoard's x-axis is the optimizer step, whatever the batch holds.
    assert scalar_steps(chunked.output_dir, "train/loss") == list(range(10, 1001, 10))
    val_steps = scalar_steps(chunked.output_dir, "val/loss")
    assert val_steps == [*range(100, 1001, 100), 1000]  # the last: train() on the final weights
    assert val_steps == scalar_steps(one.output_dir, "val/loss")
    last = read_checkpoint(Path(chunked.output_dir) / "checkpoints" / "last.ckpt")
    assert last["global_step"] == 1000


@pytest.mark.parametrize("model", ["scratch", "mlp"])
def test_resume_across_chunk_sizes_is_exact(make_cfg, model) -> None:
    """250 steps (one update a batch), resumed to 1000 (10 a batch) = 1000 steps straight, and
    the resumed run still validates at every 100th step."""

    def cfg(*extra: str):
        return make_cfg(*LOGGED, "experiment=heart_lesson", f"model={model}", *extra, quiet=False)

    whole = cfg("trainer.max_steps=1000")
    train(whole)
    first_part = cfg("trainer.max_steps=250")
    train(first_part)
    last = Path(first_part.output_dir) / "checkpoints" / "last.ckpt"
    resumed = cfg("trainer.max_steps=1000", f"ckpt_path={last}")
    assert (updates_per_batch(first_part), updates_per_batch(resumed, 250)) == (1, 10)
    record = train(resumed)

    assert record["steps"] == 1000
    assert_same_weights(resumed.output_dir, whole.output_dir)
    assert record["test/loss"] == read_metrics(Path(whole.output_dir))["test/loss"]
    assert scalar_steps(resumed.output_dir, "val/loss") == [*range(300, 1001, 100), 1000]
    assert scalar_steps(resumed.output_dir, "train/loss") == list(range(260, 1001, 10))


@pytest.mark.parametrize("model", ["scratch", "mlp"])
def test_divergence_names_the_same_step_whatever_the_chunk(make_cfg, model) -> None:
    records = []
    for per_batch in ("1", "auto"):
        cfg = make_cfg(
            "experiment=linear", f"model={model}", "model.lr=100", "trainer.max_steps=1000",
            f"updates_per_batch={per_batch}",
        )  # fmt: skip
        with pytest.raises(DivergedError) as caught:
            train(cfg)
        records.append(read_metrics(Path(cfg.output_dir)))
        assert f"diverged at step {caught.value.step} " in records[-1]["error"]
    assert records[0]["steps"] == records[1]["steps"] < 1000
    assert records[0]["error"] == records[1]["error"]
