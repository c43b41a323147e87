"""A population's TensorBoard runs, written in one go: the same bytes as TensorBoard's own record
writer, and read back by TensorBoard as the scalars and HParams that were logged."""

from __future__ import annotations

import io

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

from experiments.output.event_file import EventFileRun, record


@pytest.mark.parametrize("data", [b"", b"x", bytes(range(256)) * 3, b"\xff" * 61])
def test_records_are_framed_as_tensorboards_own(data: bytes) -> None:
    theirs = io.BytesIO()
    RecordWriter(theirs).write(data)
    assert record(data) == theirs.getvalue()


def test_a_run_reads_back_in_tensorboard(tmp_path) -> None:
    run = EventFileRun(tmp_path / "run", varied={"model.lr"}, number=7)
    run.log_metrics({"train/loss": 0.5}, 100)
    run.log_metrics({"train/loss": 0.25, "val/loss": 0.3, "val/acc": 0.75}, 200)
    run.log_hyperparams({"model.lr": 0.1, "max_steps": 200, "gone": None}, {"val/loss": 0.3}, 200)
    run.end_run("completed")
    (path,) = (tmp_path / "run").iterdir()
    assert path.name.startswith("events.out.tfevents.") and path.name.endswith(".7")

    events = EventAccumulator(str(tmp_path / "run")).Reload()
    assert [(s.step, s.value) for s in events.Scalars("train/loss")] == [(100, 0.5), (200, 0.25)]
    val = [(s.step, pytest.approx(s.value)) for s in events.Scalars("val/loss")]
    assert val == [(200, 0.3), (200, 0.3)], "float32, as TensorBoard keeps scalars"
    content = events.PluginTagToContent("hparams")
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"])
    infos = experiment.experiment.hparam_infos
    assert [(i.name, i.differs) for i in infos] == [("model.lr", True), ("max_steps", False)]
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    assert start.session_start_info.hparams["max_steps"].string_value == "200"
