"""Convnets from config (`model.channels` ...) in both models: the same trajectory, weights that
load into plain torch.nn, hand-written gradients checked, one-line errors, the digits_cnn recipe
and its pictures in TensorBoard."""

from __future__ import annotations

import statistics

import pytest
import torch
from helpers import CONF, LOGGED, read_metrics
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from experiments.errors import ConfigError
from experiments.run.build import build
from experiments.run.checkpoints import model_from_checkpoint, read_checkpoint
from experiments.run.config import check_config
from experiments.run.gradcheck import compose_config, gradcheck
from experiments.run.training import train

FLOAT64 = ["trainer.precision=64-true", "trainer.max_steps=100"]
CASES = {
    "two blocks, padding, max pool, hidden layer, sgd mini-batches": [
        "model.channels=[4,6]",
        "model.padding=1",
        "model.hidden=[8]",
        "model.optimizer=sgd",
        "model.lr=0.1",
        "data.batch_size=32",
    ],
    "stride 2, average pool, tanh, adam": [
        "model.channels=[5]",
        "model.kernel_size=2",
        "model.stride=2",
        "model.pool=avg",
        "model.activation=tanh",
        "model.lr=0.01",
        "data.batch_size=64",
    ],
    "no pooling, momentum, full batch": [
        "model.channels=[3]",
        "model.pool=none",
        "model.optimizer=momentum",
        "model.lr=0.05",
    ],
}


@pytest.mark.parametrize("overrides", CASES.values(), ids=CASES.keys())
def test_scratch_and_mlp_convnets_hold_the_same_weights_after_100_steps(
    make_cfg, overrides
) -> None:
    weights = {}
    for model in ("scratch", "mlp"):
        cfg = make_cfg("experiment=digits_cnn", *overrides, f"model={model}", *FLOAT64)
        record = train(cfg)
        assert record["status"] == "completed" and record["steps"] == 100
        weights[model] = torch.load(f"{cfg.output_dir}/weights.pth", weights_only=True)
    assert "1.weight" in weights["mlp"] and weights["mlp"]["1.weight"].dim() == 4
    assert weights["scratch"].keys() == weights["mlp"].keys()
    for name, value in weights["mlp"].items():
        assert value.dtype == torch.float64
        assert (weights["scratch"][name] - value).abs().max().item() < 1e-8, name


def test_same_seed_same_initial_convnet_in_both_models(make_cfg) -> None:
    nets = {}
    for model in ("scratch", "mlp"):
        cfg = make_cfg("experiment=digits_cnn", f"model={model}", "model.channels=[4,8]")
        nets[model] = build(cfg)[1].net.state_dict()
    assert nets["scratch"].keys() == nets["mlp"].keys()
    for name, value in nets["mlp"].items():
        assert torch.equal(nets["scratch"][name], value), name
    bound = 1 / (1 * 3 * 3) ** 0.5  # torch.nn.Conv2d's: U(-1/sqrt(fan_in), ...), fan_in = 1*3*3
    first = nets["mlp"]["1.weight"]
    assert first.abs().max() <= bound and first.abs().max() > 0.8 * bound


def test_a_scratch_convnets_weights_load_into_plain_torch_nn(make_cfg) -> None:
    cfg = make_cfg(
        "experiment=digits_cnn", "model=scratch", "trainer.max_steps=30", *LOGGED, quiet=False
    )
    train(cfg)
    weights = torch.load(f"{cfg.output_dir}/weights.pth", weights_only=True)
    plain = nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 16, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 10),
        nn.Softmax(dim=-1),
    )
    plain.load_state_dict(weights)  # strict: every key and shape
    checkpoint = read_checkpoint(f"{cfg.output_dir}/checkpoints/last.ckpt")
    model = model_from_checkpoint(checkpoint)
    datamodule, _ = build(cfg)
    x = datamodule.test_xy[0]
    with torch.no_grad():
        expected = model(x)
        assert torch.allclose(plain(x), expected, atol=1e-6)
    assert (expected.argmax(1) == datamodule.test_xy[1].argmax(1)).float().mean() > 0.8


def test_gradcheck_passes_on_a_smooth_two_block_convnet() -> None:
    overrides = [
        "experiment=digits_cnn",
        "model.channels=[3,4]",
        "model.hidden=[6]",
        "model.activation=tanh",
        "model.pool=avg",
    ]
    result = gradcheck(compose_config(overrides, CONF))
    assert result.passed, result.failing
    names = [t.name for t in result.tensors]
    assert names[:4] == ["1.weight", "1.bias", "4.weight", "4.bias"]
    assert result.tensors[0].shape == (3, 1, 3, 3)
    assert result.tensors[2].fd_elements == 4 * 3 * 3 * 3  # every kernel element
    assert "1x8x8 conv[3, 4] k3 p1 avg2 -> 16-6-10 tanh/softmax" in result.label


def test_gradcheck_of_the_digits_cnn_recipe_agrees_with_autograd() -> None:
    """ReLU and max pooling have kinks: a central difference that straddles one is off (the
    recipe's 1.weight by ~1e-6), so there autograd, same weights and data, is the reference."""
    result = gradcheck(compose_config(["experiment=digits_cnn"], CONF))
    assert [t.name for t in result.tensors] == ["1.weight", "1.bias", "5.weight", "5.bias"]
    for t in result.tensors:
        assert t.autograd.passed and t.autograd.max_rel < 1e-10, t.name
        assert t.finite_differences.max_abs < 1e-5, t.name
    assert abs(result.loss - result.autograd_loss) <= 1e-12 * abs(result.loss)


def test_compare_true_on_a_convnet(make_cfg) -> None:
    cfg = make_cfg(
        "experiment=digits_cnn",
        "model.channels=[4]",
        "compare=true",
        "trainer.precision=64-true",
        "trainer.max_steps=10",
        *LOGGED,
        quiet=False,
    )
    record = train(cfg)
    assert record["status"] == "completed"
    metrics = read_metrics(cfg.output_dir)
    assert "parity/grad/1.weight" in metrics
    assert 0 <= metrics["parity/max_grad_diff"] < 1e-8
    assert 0 <= metrics["parity/max_weight_diff"] < 1e-8


BAD_KEYS = {
    "model.channels=[8,0]": "model.channels=[8, 0] is not allowed",
    "model.kernel_size=0": "model.kernel_size=0 is not allowed",
    "model.padding=-1": "model.padding=-1 is not allowed",
    "model.pool=mean": "model.pool='mean' is unknown: choose one of max, avg, none",
    "model.pool_size=1.5": "model.pool_size=1.5 is not allowed",
}


@pytest.mark.parametrize("override", BAD_KEYS, ids=BAD_KEYS)
def test_bad_convolution_keys_are_refused_in_one_line(make_cfg, override) -> None:
    with pytest.raises(ConfigError, match="^" + BAD_KEYS[override].replace("[", r"\[")) as err:
        check_config(make_cfg("experiment=digits_cnn", override))
    assert "\n" not in str(err.value)


NOT_FITTING = {
    "a kernel larger than the padded input": (
        ["experiment=digits_cnn", "model.kernel_size=11", "model.padding=1"],
        "model.kernel_size=11 is larger than block 1's 8x8 input padded by model.padding=1",
    ),
    "a pool that leaves nothing": (
        ["experiment=digits_cnn", "model.channels=[4,4,4]", "model.padding=0"],
        "model.pool_size=2 leaves nothing of block 2's 1x1 convolution output",
    ),
    "channels without an image-shaped input": (
        ["experiment=heart", "model.channels=[4]"],
        "model.channels=[4] needs image inputs (e.g. data=digits, 1x8x8): this data gives "
        "rows of 13 features",
    ),
}


@pytest.mark.parametrize("case", NOT_FITTING.values(), ids=NOT_FITTING)
def test_keys_that_do_not_fit_the_image_are_refused_in_one_line(make_cfg, case) -> None:
    overrides, message = case
    with pytest.raises(ConfigError) as err:
        train(make_cfg(*overrides))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_the_images_tab_holds_filters_and_feature_maps(make_cfg) -> None:
    cfg = make_cfg("experiment=digits_cnn", "model=mlp", "trainer.max_steps=20", quiet=False)
    train(cfg)
    events = EventAccumulator(f"{cfg.output_dir}/tensorboard").Reload()
    images = set(events.Tags()["images"])
    wanted = {"figures/first_layer_filters", "figures/feature_maps", "figures/misclassified_digits"}
    assert wanted <= images
    for tag in wanted:
        [image] = events.Images(tag)
        assert image.step == 20 and image.width > 300 and image.height > 100


def test_a_dense_network_gets_no_convnet_pictures(make_cfg, tmp_path) -> None:
    cfg = make_cfg("experiment=digits", "trainer.max_steps=5", quiet=False)
    train(cfg)
    events = EventAccumulator(f"{cfg.output_dir}/tensorboard").Reload()
    images = set(events.Tags()["images"])
    assert "figures/misclassified_digits" in images
    assert not images & {"figures/first_layer_filters", "figures/feature_maps"}


@pytest.mark.slow
@pytest.mark.parametrize("model", ["scratch", "mlp"])
def test_digits_cnn_reaches_its_test_accuracy_over_seeds_0_to_4(make_cfg, model) -> None:
    accuracies = [
        train(make_cfg("experiment=digits_cnn", f"model={model}", f"seed={seed}"))["test/acc"]
        for seed in range(5)
    ]
    assert statistics.mean(accuracies) >= 0.985, accuracies
