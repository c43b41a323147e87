"""A user's folder of images (`experiment=images data.path=DIR`): a folder of shapes the test draws
itself trains well above chance with a dense network (scratch and autograd), the normalisation is
the training images' own, the class names travel in the checkpoint, and prediction takes image
files (by folder or by file) and gives one row per file with one probability per class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import CHECKPOINTS_ONLY, CONF
from helpers.images import SHAPES, draw_shapes
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from PIL import Image

from experiments.data.image_folder import ImageOptions, read_image_folder
from experiments.data.images import ImageFolderDataModule
from experiments.data.splits import split_indices
from experiments.errors import ConfigError, DataError
from experiments.run.predicting import predict
from experiments.run.training import train

SIZE = ["data.image_size=16", "data.color=grayscale"]


def compose_run(out: Path, *overrides: str):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("train", overrides=[*CHECKPOINTS_ONLY, *overrides, f"output_dir={out}"])


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    return draw_shapes(tmp_path_factory.mktemp("shapes"), per_class=60)


@pytest.fixture(scope="module")
def runs(shapes, tmp_path_factory) -> dict[str, tuple[dict, Path]]:
    """Each model's metrics.json record (status, metrics) and last checkpoint, trained on the
    shapes."""
    trained = {}
    for model in ("scratch", "mlp"):
        out = tmp_path_factory.mktemp(model)
        record = train(
            compose_run(out, "experiment=images", f"model={model}", f"data.path={shapes}", *SIZE)
        )
        trained[model] = record, out / "checkpoints" / "last.ckpt"
    return trained


def checkpoint_data(ckpt: Path) -> dict:
    return torch.load(ckpt, weights_only=True)["experiments"]["data"]


@pytest.mark.parametrize("model", ["scratch", "mlp"])
def test_the_convnet_learns_the_shapes(runs, model) -> None:
    metrics, _ = runs[model]
    assert metrics["status"] == "completed"
    assert metrics["test/baseline_acc"] < 0.4, "three balanced classes: chance is a third"
    assert metrics["test/acc"] > 0.75, metrics
    assert np.asarray(metrics["test/confusion"]).shape == (3, 3)


def test_the_convnet_beats_a_dense_network_on_the_shapes(shapes, runs, tmp_path) -> None:
    """The same pixels, splits and steps through one hidden layer of 32 instead of convolutions:
    a dense network cannot use that a shape is the same wherever it sits."""
    dense = train(
        compose_run(
            tmp_path, "experiment=images", f"data.path={shapes}", *SIZE, "model.channels=[]"
        )
    )
    convnet, _ = runs["scratch"]
    assert convnet["test/acc"] >= dense["test/acc"] + 0.1, (convnet["test/acc"], dense)


def test_normalisation_is_the_training_images_own(shapes, runs) -> None:
    """numpy's per-channel mean and std of the training images, read with Pillow here, split as
    a table is (stratified, split_seed 42), are the checkpoint's."""
    files = sorted(p for kind in SHAPES for p in (shapes / kind).iterdir())
    labels = np.asarray([SHAPES.index(p.parent.name) for p in files])
    pixels = np.stack(
        [np.asarray(Image.open(p).convert("L").resize((16, 16), Image.BILINEAR)) for p in files]
    ).astype(np.float64)
    train_rows, _, _ = split_indices(labels, 3, 0.2, 0.2, 42)
    scaler = checkpoint_data(runs["scratch"][1])["scaler"]
    assert scaler["image_shape"] == [1, 16, 16]
    np.testing.assert_allclose(scaler["mean"], [pixels[train_rows].mean()], rtol=1e-12)
    np.testing.assert_allclose(scaler["std"], [pixels[train_rows].std()], rtol=1e-12)
    assert scaler["mean"] != [pytest.approx(pixels.mean(), rel=1e-9)], "not every image's"


def test_class_names_and_image_settings_travel_in_the_checkpoint(runs) -> None:
    data = checkpoint_data(runs["mlp"][1])
    assert data["task"] == {"name": "multiclass", "classes": list(SHAPES)}
    assert data["images"] == {"image_size": [16, 16], "color": "grayscale"}


def test_a_checkpoint_is_evaluated_again_with_its_own_normalisation(runs, shapes, tmp_path) -> None:
    metrics, ckpt = runs["scratch"]
    cfg = compose_run(
        tmp_path,
        "experiment=images",
        f"data.path={shapes}",
        *SIZE,
        "train=false",
        f"ckpt_path={ckpt}",
    )
    again = train(cfg)
    assert again["test/acc"] == metrics["test/acc"]
    assert again["test/loss"] == pytest.approx(metrics["test/loss"], rel=1e-6)


def test_every_image_is_converted_to_one_size_and_colour(shapes) -> None:
    """Every third image is grayscale (converted to rgb), every seventh 20x20 (resized)."""
    folder = read_image_folder(shapes, ImageOptions((24, 24), "rgb"))
    assert folder.pixels.shape == (180, 3, 24, 24) and folder.pixels.dtype == np.uint8
    assert folder.classes == list(SHAPES)
    assert np.bincount(folder.labels).tolist() == [60, 60, 60]
    assert "24 resized to 24x24" in folder.notes[0] and "60 converted to rgb" in folder.notes[0]
    gray = read_image_folder(shapes, ImageOptions((12, 20), "grayscale"))
    assert gray.pixels.shape == (180, 1, 12, 20)
    assert "180 resized to 12x20" in gray.notes[0] and "120 converted to grayscale" in gray.notes[0]


def test_hidden_and_other_files_are_left_out(tmp_path) -> None:
    root = draw_shapes(tmp_path / "shapes", per_class=6, side=8, kinds=SHAPES[:2])
    (root / "circle" / ".DS_Store").write_bytes(b"\0\1")
    (root / "circle" / "labels.txt").write_text("circle\n")
    (root / ".ipynb_checkpoints").mkdir()
    (root / "square" / "more").mkdir()
    Image.new("L", (8, 8)).save(root / "square" / "more" / "extra.PNG")
    folder = read_image_folder(root, ImageOptions((8, 8), "grayscale"))
    assert folder.classes == ["circle", "square"], "a hidden folder is no class"
    assert len(folder.files) == 13, "extra.PNG (any case, any depth) is the square's"
    assert folder.notes[1] == "skipped 1 files that are not PNG or JPEG: circle/labels.txt"


@pytest.mark.parametrize("layout", ["flat", "image"])
def test_images_reach_the_model_flat_or_as_images(shapes, layout) -> None:
    data = ImageFolderDataModule(str(shapes), image_size=[16, 12], color="rgb", layout=layout)
    data.setup("fit")
    x, y = data.train_xy
    rows = len(data.splits.x_train)
    assert data.image_shape == (3, 16, 12) and data.n_features == 3 * 16 * 12
    assert x.shape == ((rows, 3, 16, 12) if layout == "image" else (rows, 576))
    assert y.shape == (rows, 3)
    assert len(data.files["train"]) == rows and len(data.files["test"]) == 36
    # Normalised per channel: each channel of the training images has mean 0 and std 1.
    channels = x.reshape(rows, 3, -1).double()
    np.testing.assert_allclose(channels.mean(dim=(0, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(channels.std(dim=(0, 2), correction=0), 1, atol=1e-5)


def predict_cfg(ckpt: Path, out: Path, **given):
    keys = {"inputs": None, "input_csv": None, "input_dir": None, **given}
    return OmegaConf.create({"ckpt_path": str(ckpt), "output_dir": str(out), **keys})


def assert_predicted(table: pd.DataFrame, files: list[Path], classes: list[str]) -> None:
    assert table["path"].tolist() == [str(p) for p in files]
    assert list(table.columns) == ["path", "class", *[f"p({c})" for c in classes]]
    probabilities = table[[f"p({c})" for c in classes]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert (table["class"] == np.asarray(classes)[probabilities.argmax(axis=1)]).all()


def test_predict_a_folder_of_new_images(runs, tmp_path) -> None:
    new = draw_shapes(tmp_path / "new", per_class=10, seed=1)
    (new / "readme.txt").write_text("new shapes\n")
    cfg = predict_cfg(runs["scratch"][1], tmp_path / "out", input_dir=str(new))
    table = predict(cfg)
    files = sorted(p for p in new.rglob("*") if p.suffix in (".png", ".jpg"))
    assert_predicted(table, files, list(SHAPES))
    truth = [Path(p).parent.name for p in table["path"]]
    assert (table["class"] == truth).mean() > 0.6, "new shapes, classified well above chance"
    written = pd.read_csv(tmp_path / "out" / "predictions.csv")
    pd.testing.assert_frame_equal(written, table, check_dtype=False, atol=1e-6)


def test_predict_image_files_in_the_order_given(runs, shapes, tmp_path) -> None:
    files = [shapes / "triangle" / "001.png", shapes / "circle" / "005.jpg"]
    cfg = predict_cfg(runs["mlp"][1], tmp_path, inputs=[str(p) for p in files])
    assert_predicted(predict(cfg), files, list(SHAPES))


def test_two_classes_are_a_binary_task(tmp_path) -> None:
    root = draw_shapes(tmp_path / "two", per_class=30, side=16, kinds=("circle", "square"))
    out = tmp_path / "run"
    record = train(compose_run(out, "experiment=images", f"data.path={root}", *SIZE))
    assert record["status"] == "completed" and "test/tp" in record
    ckpt = out / "checkpoints" / "last.ckpt"
    assert checkpoint_data(ckpt)["task"] == {"name": "binary", "classes": ["circle", "square"]}
    table = predict(predict_cfg(ckpt, tmp_path, input_dir=str(root / "square")))
    assert_predicted(table, sorted((root / "square").iterdir()), ["circle", "square"])


def _not_an_image(tmp: Path) -> str:
    (path := tmp / "notes.png").write_text("not a picture\n")
    return str(path)


def _empty(tmp: Path) -> str:
    (path := tmp / "empty").mkdir()
    return str(path)


@pytest.mark.parametrize(
    ("given", "error", "message"),
    [
        (lambda tmp: {"input_csv": "rows.csv"}, ConfigError, "input_csv is for a model trained"),
        (lambda tmp: {"inputs": [[1, 2]]}, ConfigError, "is not a list of image files"),
        (lambda tmp: {}, ConfigError, "give the images to predict: give input_dir=DIR"),
        (lambda tmp: {"input_dir": _empty(tmp)}, DataError, "holds no PNG or JPEG files"),
        (
            lambda tmp: {"inputs": [_not_an_image(tmp)]},
            DataError,
            "notes.png is not an image Pillow can read",
        ),
        (lambda tmp: {"inputs": ["gone.png"]}, DataError, "gone.png, which does not exist"),
    ],
    ids=["a CSV", "rows", "nothing", "empty folder", "not an image", "missing file"],
)
def test_predict_refuses_what_is_not_images(runs, tmp_path, given, error, message) -> None:
    out = tmp_path / "out"
    with pytest.raises(error, match=message):
        predict(predict_cfg(runs["scratch"][1], out, **given(tmp_path)))
    assert not (out / "predictions.csv").exists()
