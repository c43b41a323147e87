"""TensorBoard's HParams tab for a sweep, read back from the event files' summary protos: the
varied keys are the first, differing columns, named as typed; integers are integers; the headline
metrics lead; run names lead with what differs; the last histogram is of the final weights."""

from __future__ import annotations

import pytest
from helpers import job_dirs, multirun
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from experiments.output.hparams import run_name, varied_keys

SWEEPERS = {"basic": [], "vectorized": ["hydra/sweeper=vectorized"]}


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory) -> dict[str, list]:
    """Each sweeper's TensorBoard runs of one small sweep, made once for the module."""
    made = {}
    for name, extra in SWEEPERS.items():
        sweep = tmp_path_factory.mktemp(name)
        args = ("experiment=xor", "model.lr=0.5,1.0", "trainer.max_steps=20", *extra)
        done = multirun(*args, sweep_dir=sweep)
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
        made[name] = [next((job / "tensorboard").iterdir()) for job in job_dirs(sweep)]
    return made


@pytest.fixture(params=SWEEPERS)
def runs(request, sweeps) -> list:
    """The runs of the basic sweep, then of the vectorized one: both must read the same."""
    return sweeps[request.param]


def hparams_data(run, tag: str):
    events = EventAccumulator(str(run), size_guidance={"histograms": 0}).Reload()
    content = events.PluginTagToContent("hparams")[f"_hparams_/{tag}"]
    return plugin_data_pb2.HParamsPluginData.FromString(content), events


def test_run_names_lead_with_what_differs(runs) -> None:
    names = [r.name for r in runs]
    assert names == ["lr=0.5,experiment=xor,max_steps=20", "lr=1.0,experiment=xor,max_steps=20"]


def test_the_varied_key_is_the_first_differing_column(runs) -> None:
    data, _ = hparams_data(runs[0], "experiment")
    infos = data.experiment.hparam_infos
    assert infos[0].name == "model.lr" and infos[0].differs
    assert not any(info.differs for info in infos[1:]), "only what the sweep varied differs"
    assert "lr" not in {info.name for info in infos}, "one column per key"
    metrics = [info.name.tag for info in data.experiment.metric_infos]
    assert metrics[:4] == ["val/loss", "val/acc", "test/loss", "test/acc"]


def test_values_read_as_typed(runs) -> None:
    for run, lr in zip(runs, (0.5, 1.0), strict=True):
        data, _ = hparams_data(run, "session_start_info")
        values = data.session_start_info.hparams
        assert values["model.lr"].number_value == lr
        assert values["max_steps"].string_value == "20", "an integer shows as one"
        assert values["bias"].bool_value is True


def test_the_last_histogram_is_of_the_final_weights(sweeps) -> None:
    _, events = hparams_data(sweeps["basic"][0], "experiment")
    steps = [h.step for h in events.Histograms("weights/0.weight")]
    assert steps[-1] == 20 and steps == sorted(set(steps))


def test_run_name_rules() -> None:
    overrides = ["experiment=xor", "model.lr=0.1", "trainer.max_steps=500", "data.lr=3"]
    varied = varied_keys({0: overrides, 1: ["experiment=xor", "model.lr=1", "trainer.max_steps=9"]})
    assert varied == {"model.lr", "trainer.max_steps"}
    assert run_name(overrides, varied) == "model.lr=0.1,max_steps=500,data.lr=3,experiment=xor"


def test_vectorized_members_log_the_ordinary_validation_curve(sweeps) -> None:
    def val_steps(run) -> list[int]:  # each step once: the final one is written more than once
        events = EventAccumulator(str(run), size_guidance={"histograms": 0}).Reload()
        return sorted({s.step for s in events.Scalars("val/loss")})

    assert val_steps(sweeps["basic"][0]) == list(range(2, 21, 2)), "every val_check_interval"
    assert [val_steps(run) for run in sweeps["vectorized"]] == [list(range(2, 21, 2))] * 2
