"""What a run leaves behind: checkpoints that resume exactly, evaluation, prediction, weights.pth,
pictures and histograms."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import CHECKPOINTS_ONLY, assert_same_weights, non_trivial, read_metrics, run_cli
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from experiments.data import CsvDataModule
from experiments.data.csv import packaged_heart_csv
from experiments.run.checkpoints import model_from_checkpoint, read_checkpoint
from experiments.run.predicting import predict
from experiments.run.training import train

MINI_BATCH_CASES = {
    "shuffled mini-batches": ["experiment=heart", "data.batch_size=16", "model.hidden=[4]"],
    "rows drawn with replacement": ["experiment=heart_lesson"],
}


@pytest.mark.parametrize("model", ["scratch", "mlp"])
@pytest.mark.parametrize("overrides", MINI_BATCH_CASES.values(), ids=MINI_BATCH_CASES.keys())
def test_resume_from_step_50_equals_an_uninterrupted_100_step_run(make_cfg, model, overrides):
    def cfg(*extra: str):
        return make_cfg(*CHECKPOINTS_ONLY, *overrides, f"model={model}", *extra, quiet=False)

    whole = cfg("trainer.max_steps=100")
    train(whole)
    first_half = cfg("trainer.max_steps=50")
    train(first_half)
    last = Path(first_half.output_dir) / "checkpoints" / "last.ckpt"
    assert read_checkpoint(last)["global_step"] == 50
    resumed = cfg("trainer.max_steps=100", f"ckpt_path={last}")
    record = train(resumed)

    assert record["steps"] == 100
    assert_same_weights(resumed.output_dir, whole.output_dir)
    assert record["test/loss"] == read_metrics(Path(whole.output_dir))["test/loss"]


def test_best_checkpoint_is_kept_beside_last_and_evaluate_only_reproduces_test(make_cfg):
    trained = make_cfg(*CHECKPOINTS_ONLY, "experiment=xor", "model=mlp", quiet=False)
    record = train(trained)
    checkpoints = Path(trained.output_dir) / "checkpoints"
    best = [p for p in checkpoints.iterdir() if p.name.startswith("best-step")]
    assert len(best) == 1 and (checkpoints / "last.ckpt").is_file()

    # A different model= on the command line does not matter: the checkpoint's model is used.
    evaluated = make_cfg(
        "experiment=xor", "model=scratch", "train=false", f"ckpt_path={checkpoints / 'last.ckpt'}"
    )
    again = train(evaluated)
    assert again["status"] == "completed" and again["steps"] == record["steps"]
    for key in ("test/acc", "test/loss", "test/baseline_acc"):
        assert again[key] == pytest.approx(record[key], rel=1e-6), key


def test_predict_linear_from_the_command_line(make_cfg, tmp_path):
    trained = make_cfg(*CHECKPOINTS_ONLY, "experiment=linear", quiet=False)
    train(trained)
    ckpt = Path(trained.output_dir) / "checkpoints" / "last.ckpt"
    out = tmp_path / "predict"
    done = run_cli(f"ckpt_path={ckpt}", "inputs=[[5]]", run_dir=out, script="predict.py")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "prediction_0" in done.stdout and "prediction_1" in done.stdout
    table = pd.read_csv(out / "predictions.csv")
    assert table[["prediction_0", "prediction_1"]].iloc[0].tolist() == pytest.approx(
        [10, 15], abs=0.5
    )


def test_predict_heart_on_raw_csv_rows_matches_what_the_model_saw_in_test(make_cfg, tmp_path):
    trained = make_cfg(*CHECKPOINTS_ONLY, "experiment=heart", quiet=False)
    train(trained)
    ckpt = Path(trained.output_dir) / "checkpoints" / "last.ckpt"
    datamodule = CsvDataModule()
    datamodule.setup()
    model = model_from_checkpoint(read_checkpoint(ckpt))
    with torch.no_grad():
        seen_in_test = model(datamodule.test_xy[0])[:5, 0].numpy()

    # Raw rows straight from the CSV file, label column and all: the model picks its 13 inputs.
    frame = pd.read_csv(packaged_heart_csv())
    raw = datamodule.splits.x_test[:5]
    rows = [
        int(np.flatnonzero((frame.drop(columns="target").to_numpy() == r).all(1))[0]) for r in raw
    ]
    frame.iloc[rows].to_csv(tmp_path / "rows.csv", index=False)
    cfg = make_predict_cfg(ckpt, tmp_path, input_csv=tmp_path / "rows.csv")
    table = predict(cfg)
    assert table["probability"].to_numpy() == pytest.approx(seen_in_test, abs=1e-6)
    assert set(table["predicted"]) <= {0, 1}


def make_predict_cfg(ckpt: Path, tmp_path: Path, **values):
    from omegaconf import OmegaConf

    return OmegaConf.create(
        {"ckpt_path": str(ckpt), "inputs": None, "input_csv": None, "output_dir": str(tmp_path)}
        | {k: str(v) for k, v in values.items()}
    )


def test_weights_pth_loads_into_a_plain_torch_nn_network(make_cfg):
    trained = make_cfg(*CHECKPOINTS_ONLY, "experiment=xor", "model=scratch", quiet=False)
    train(trained)
    # The three lines the README shows:
    net = torch.nn.Sequential(
        torch.nn.Linear(2, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 1), torch.nn.Sigmoid()
    )
    net.load_state_dict(torch.load(Path(trained.output_dir) / "weights.pth", weights_only=True))
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    trained_model = model_from_checkpoint(
        read_checkpoint(Path(trained.output_dir) / "checkpoints" / "last.ckpt")
    )
    with torch.no_grad():
        assert torch.equal(net(x), trained_model(x))
        assert (net(x) > 0.5).int().ravel().tolist() == [0, 1, 1, 0]


@pytest.mark.parametrize(
    ("experiment", "model", "pictures"),
    [
        ("xor", "scratch", {"loss_curves", "confusion_matrix", "decision_boundary"}),
        ("heart", "mlp", {"loss_curves", "confusion_matrix"}),
        ("linear", "mlp", {"loss_curves", "predictions_vs_targets"}),
        ("scores", "scratch", {"loss_curves", "predictions_vs_targets"}),
    ],
)
def test_pictures_and_histograms(tmp_path, experiment, model, pictures):
    run_dir = tmp_path / "run"
    done = run_cli(f"experiment={experiment}", f"model={model}", run_dir=run_dir)
    assert done.returncode == 0, done.stderr[-2000:]
    assert {p.stem for p in run_dir.glob("*.png")} == pictures
    for png in run_dir.glob("*.png"):
        assert non_trivial(png), png.name

    (event_file,) = (run_dir / "tensorboard").glob("events.out.tfevents.*")  # fit, test, HParams
    events = EventAccumulator(str(event_file), size_guidance={"images": 0, "histograms": 0})
    events.Reload()
    assert {f"figures/{p}" for p in pictures} <= set(events.Tags()["images"])
    histograms = set(events.Tags()["histograms"])
    assert {"weights/0.weight", "gradients/0.weight"} <= histograms
    assert len(events.Histograms("gradients/0.weight")) >= 10, "one per logging interval"

    metrics = json.loads((run_dir / "metrics.json").read_text())
    if "confusion_matrix" in pictures:
        counts = [metrics[f"test/{k}"] for k in ("tn", "fp", "fn", "tp")]
        assert sum(counts) == {"xor": 4, "heart": 61}[experiment]
        assert (counts[0] + counts[3]) / sum(counts) == pytest.approx(metrics["test/acc"])
