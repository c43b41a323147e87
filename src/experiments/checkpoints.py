"""Reading our checkpoints safely (`weights_only=True`) and rebuilding the model they hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from experiments.data.scaler import Scaler
from experiments.errors import ConfigError, missing_checkpoint
from experiments.record import write_atomic


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written beside their target and renamed into place (see `write_atomic`).

    Lightning's own save goes through an fsspec transaction whose temporary file lives in the
    system temp folder; across filesystems its final move is a copy that `kill -9` can cut short.
    """

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        write_atomic(Path(path), lambda f: torch.save(checkpoint, f))


def recount_batches(checkpoint: dict, updates_per_batch: int) -> None:
    """Lightning's training-batch counters of `checkpoint`, in place, as if every batch so far
    had held `updates_per_batch` updates: Lightning validates and logs by batch count."""
    loop = checkpoint.get("loops", {}).get("fit_loop", {})
    progress = loop.get("epoch_loop.batch_progress")
    if not progress:
        return
    shift = checkpoint["global_step"] // updates_per_batch - progress["total"]["processed"]
    for counts in (progress["total"], progress["current"]):
        for key in counts:
            counts[key] += shift
    state = loop.get("epoch_loop.state_dict")
    if state is not None:
        state["_batches_that_stepped"] = state.get("_batches_that_stepped", 0) + shift


# The only classes a checkpoint may name: nothing user-supplied is imported or unpickled.
MODEL_CLASSES = {
    "experiments.models.scratch.ScratchModule": ("experiments.models", "ScratchModule"),
    "experiments.models.mlp.MLPModule": ("experiments.models", "MLPModule"),
}


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's contents, or a `ConfigError` saying what is wrong with the file."""
    path = Path(path)
    if not path.is_file():
        raise missing_checkpoint(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load raises many kinds on a file that is not its own
        with open(path, "rb") as f:
            is_zip = f.read(4) == b"PK\x03\x04"  # how torch.save files begin
        what = "is truncated or corrupt" if is_zip else "is not a checkpoint"
        raise ConfigError(
            f"ckpt_path={path} {what}: use a complete .ckpt file written by scripts/train.py, "
            "e.g. outputs/runs/<run>/checkpoints/last.ckpt"
        ) from err
    if not isinstance(checkpoint, dict) or "experiments" not in checkpoint:
        raise ConfigError(
            f"ckpt_path={path} is not a checkpoint written by scripts/train.py: "
            "use one from outputs/runs/<run>/checkpoints/"
        )
    return checkpoint


def model_from_checkpoint(checkpoint: dict[str, Any]):
    """The trained LessonModule, its architecture and weights taken from the checkpoint."""
    import importlib

    module_name, class_name = MODEL_CLASSES[checkpoint["experiments"]["model_class"]]
    model_class = getattr(importlib.import_module(module_name), class_name)
    model = model_class(**checkpoint["hyper_parameters"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()


def scaler_from_checkpoint(checkpoint: dict[str, Any]) -> Scaler:
    return Scaler.from_state(checkpoint["experiments"]["data"])


def check_same_architecture(checkpoint: dict[str, Any], model, path: str | Path) -> None:
    """Resuming needs the checkpoint's model class and layer shapes."""
    saved_class = checkpoint["experiments"]["model_class"]
    this_class = f"{type(model).__module__}.{type(model).__qualname__}"
    saved = {k: tuple(v.shape) for k, v in checkpoint["state_dict"].items()}
    this = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if saved_class != this_class or saved != this:
        was = _describe(saved_class, checkpoint["hyper_parameters"])
        now = _describe(this_class, dict(model.hparams))
        raise ConfigError(
            f"ckpt_path={path} holds another architecture ({was}; this run: {now}): "
            "resume with the checkpoint's own experiment, model and model.* settings"
        )


def _describe(model_class: str, hparams: dict[str, Any]) -> str:
    name = model_class.rsplit(".", 1)[-1]
    sizes = [hparams["n_inputs"], *hparams["hidden"], hparams["n_outputs"]]
    return f"{name} {'-'.join(map(str, sizes))} bias={hparams['bias']}"
