"""Scratch and autograd, same initial weights, plain SGD: the same weights after 100 steps."""

from __future__ import annotations

import pytest
import torch

from experiments.run.training import train

CASES = {
    "xor sigmoid mse, full batch": ["experiment=xor"],
    "linear identity, two hidden layers": ["experiment=linear"],
    "heart tanh+relu bce, shuffled mini-batches": [
        "experiment=heart",
        "model.hidden=[6,3]",
        "model.activation=tanh",
        "model.output_activation=sigmoid",
        "data.batch_size=16",
    ],
    "iris softmax cross-entropy, mini-batches": [
        "experiment=iris",
        "model.hidden=[5]",
        "model.optimizer=sgd",
        "model.lr=0.5",
        "data.batch_size=16",
    ],
    "heart relu mse, no bias, rows drawn with replacement": [
        "experiment=heart_lesson",
        "model.hidden=[5]",
        "model.activation=relu",
        "model.bias=false",
        "data.batch_size=4",
    ],
}


@pytest.mark.parametrize("overrides", CASES.values(), ids=CASES.keys())
def test_scratch_and_mlp_hold_the_same_weights_after_100_steps(make_cfg, overrides) -> None:
    weights = {}
    for model in ("scratch", "mlp"):
        cfg = make_cfg(
            *overrides, f"model={model}", "trainer.max_steps=100", "trainer.precision=64-true"
        )
        record = train(cfg)
        assert record["status"] == "completed"
        assert record["steps"] == 100, "trainer.max_steps must be exactly the number of updates"
        weights[model] = torch.load(f"{cfg.output_dir}/weights.pth", weights_only=True)

    assert weights["scratch"].keys() == weights["mlp"].keys()
    for name, value in weights["mlp"].items():
        assert value.dtype == torch.float64
        assert (weights["scratch"][name] - value).abs().max().item() < 1e-8, name
