"""The run's data module and model, from the config (and the checkpoint it starts from)."""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from experiments.architecture import Architecture
from experiments.run.checkpoints import check_same_architecture, model_from_checkpoint
from experiments.run.memory import check_memory
from experiments.tasks import model_defaults

log = logging.getLogger(__name__)

LOCKSTEP = "experiments.models.lockstep.LockstepModule"


def build(cfg: DictConfig, checkpoint: dict | None = None, chunk: int = 1, members: int = 1):
    """Seed everything, then the data module (set up) and the model sized to its data, both
    making `chunk` updates per Lightning batch (`loop.chunking`); a model that cannot fit in
    memory, `members` of it at once (a population), is refused before it is built (`memory`).

    With `train=false` the model and the fitted scaler come from the checkpoint instead.
    """
    datamodule = build_data(cfg)
    datamodule.chunk = chunk
    return datamodule, build_model_for(cfg, datamodule, checkpoint, chunk, members)


def build_data(cfg: DictConfig):
    """Seed everything, then the data module, set up (its `chunk` is the caller's to set, once
    the training rows have decided the run's steps: `run.epochs`)."""
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    return datamodule


def build_model_for(
    cfg: DictConfig, datamodule, checkpoint: dict | None = None, chunk: int = 1, members: int = 1
):
    """The model for `datamodule` (set up, as `build_data` leaves it): the checkpoint's with
    `train=false` (its scaler restored into the data module), else `build_model`."""
    if checkpoint is not None and not cfg.train:
        datamodule.load_preprocessing_state(checkpoint["experiments"]["data"])
        return model_from_checkpoint(checkpoint)
    model = build_model(cfg, datamodule, chunk, members)
    if checkpoint is not None:
        check_same_architecture(checkpoint, model, cfg.ckpt_path)
    return model


def compared(cfg: DictConfig) -> dict[str, Any]:
    """compare=true: the model keys build both models, trained in lockstep (`models.lockstep`),
    in place of the configured model; compare=false: the model as configured."""
    if not cfg.get("compare"):
        return {}
    return {"_target_": LOCKSTEP, "tolerance": cfg.compare_tolerance}


def build_model(cfg: DictConfig, datamodule, chunk: int = 1, members: int = 1):
    """The configured model (`compared`) sized to the data module's data; its initial weights are
    drawn from the global RNG, as seeded by the caller."""
    sizes = {"n_inputs": datamodule.n_features, "n_outputs": datamodule.n_outputs}
    image_shape = list(datamodule.image_shape)  # (C, H, W) for a convnet: architecture.py
    if (arch := Architecture.from_config(cfg.model, **sizes, image_shape=image_shape)).channels:
        arch.feature_shapes()  # a one-line ConfigError where the blocks do not fit the image
    check_memory(cfg, arch, datamodule, members)  # before a byte of it is allocated
    return instantiate(
        cfg.model,
        **sizes,
        image_shape=image_shape,
        task=datamodule.task.state_dict(),
        chunk=chunk,
        **model_defaults(cfg.model, datamodule.task.name),  # the model keys left at `auto`
        **compared(cfg),
    )


def predictions(cfg: DictConfig, model, datamodule) -> dict[str, Any]:
    """`predict_inputs`: the model's outputs, in the data's own units, for those raw rows."""
    if not cfg.get("predict_inputs"):
        return {}
    from experiments.run.inference import predict_raw

    inputs = OmegaConf.to_container(cfg.predict_inputs)
    outputs = predict_raw(model, datamodule.scaler, datamodule.task, inputs)
    rows = [
        {"input": list(map(float, row)), "output": [round(float(v), 6) for v in out]}
        for row, out in zip(inputs, outputs, strict=True)
    ]
    for row in rows:
        log.info("prediction for %s: %s", row["input"], row["output"])
    return {"predictions": rows}
