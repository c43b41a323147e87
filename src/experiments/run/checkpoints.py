"""Checkpoints: written whole (`AtomicCheckpointIO`), read safely (`weights_only=True`), and
turned back into the model, encoder, scaler and task they hold."""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from experiments.architecture import Architecture
from experiments.atomic import write_atomic
from experiments.errors import ConfigError, missing_checkpoint
from experiments.run.inference import Preprocessing


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written beside their target and renamed into place (see `write_atomic`).

    Lightning's own save goes through an fsspec transaction whose temporary file lives in the
    system temp folder; across filesystems its final move is a copy that `kill -9` can cut short.
    """

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        write_atomic(Path(path), lambda f: torch.save(checkpoint, f))


# The only classes a checkpoint may name: nothing user-supplied is imported or unpickled.
MODEL_CLASSES = {
    "experiments.models.scratch.ScratchModule": ("experiments.models", "ScratchModule"),
    "experiments.models.mlp.MLPModule": ("experiments.models", "MLPModule"),
    "experiments.models.lockstep.LockstepModule": (
        "experiments.models.lockstep",
        "LockstepModule",
    ),  # compare=true
}


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's contents, or a `ConfigError` saying what is wrong with the file."""
    path = Path(path)
    if not path.is_file():
        raise missing_checkpoint(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if refused := _refused_object(err):
            raise ConfigError(
                f"ckpt_path={path} holds a Python object ({refused}) that a safe load "
                "(torch.load with weights_only=True) refuses: checkpoints here hold tensors and "
                "plain values only, and are never unpickled as code; use a checkpoint written "
                "by scripts/train.py, e.g. outputs/runs/<run>/checkpoints/last.ckpt"
            ) from err
        raise _unreadable(path) from err
    except Exception as err:  # torch.load raises many kinds on a file that is not its own
        raise _unreadable(path) from err
    if not isinstance(checkpoint, dict) or "experiments" not in checkpoint:
        raise ConfigError(
            f"ckpt_path={path} is not a checkpoint written by scripts/train.py: "
            "use one from outputs/runs/<run>/checkpoints/"
        )
    return checkpoint


def _refused_object(err: Exception) -> str | None:
    """The class a weights-only load refused (`__main__.Thing`), from torch's message."""
    found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
    return found.group(1) if found else None


def _unreadable(path: Path) -> ConfigError:
    with open(path, "rb") as f:
        is_zip = f.read(4) == b"PK\x03\x04"  # how torch.save files begin
    what = "is truncated or corrupt" if is_zip else "is not a checkpoint"
    return ConfigError(
        f"ckpt_path={path} {what}: use a complete .ckpt file written by scripts/train.py, "
        "e.g. outputs/runs/<run>/checkpoints/last.ckpt"
    )


def model_from_checkpoint(checkpoint: dict[str, Any]):
    """The trained LessonModule, its architecture and weights taken from the checkpoint."""
    import importlib

    module_name, class_name = MODEL_CLASSES[checkpoint["experiments"]["model_class"]]
    model_class = getattr(importlib.import_module(module_name), class_name)
    model = model_class(**checkpoint["hyper_parameters"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()


def preprocessing_from_checkpoint(checkpoint: dict[str, Any]) -> Preprocessing:
    """The fitted encoder, scaler and task: what turns raw rows into model inputs and back."""
    return Preprocessing.from_state(checkpoint["experiments"]["data"])


def check_same_architecture(checkpoint: dict[str, Any], model, path: str | Path) -> None:
    """Resuming needs the checkpoint's model class and layer shapes."""
    saved_class = checkpoint["experiments"]["model_class"]
    this_class = f"{type(model).__module__}.{type(model).__qualname__}"
    saved = {k: tuple(v.shape) for k, v in checkpoint["state_dict"].items()}
    this = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if saved_class != this_class or saved != this:
        was = _describe(saved_class, checkpoint["hyper_parameters"])
        now = _describe(this_class, model.hparams)
        raise ConfigError(
            f"ckpt_path={path} holds another architecture ({was}; this run: {now}): "
            "resume with the checkpoint's own experiment, model and model.* settings"
        )


def _describe(model_class: str, hparams: dict[str, Any]) -> str:
    keys = {k: v for k, v in hparams.items() if k not in ("n_inputs", "n_outputs", "task")}
    arch = Architecture.from_config(keys, hparams["n_inputs"], hparams["n_outputs"])
    return f"{model_class.rsplit('.', 1)[-1]} {arch.describe()}"
