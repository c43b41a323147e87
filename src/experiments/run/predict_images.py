"""`predict_images(cfg, checkpoint)`: a model trained on a folder of images, on image files.

Files come from `input_dir=DIR` (every PNG or JPEG file under DIR, recursively, sorted; hidden
files left out, other files skipped with a log line) or `inputs=[a.png, b.jpg]` (files in the
order given). Each is read as training read its images (`data.image_size`, `data.color`, both
from the checkpoint) and normalised with the training images' statistics. The table: one row per
file, its `path`, the predicted `class` and `p(<class>)` for every class.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, ListConfig, OmegaConf

from experiments.atomic import write_csv_atomic
from experiments.data.image_folder import (
    ImageOptions,
    folder_path,
    image_files_under,
    read_image,
    skipped_note,
)
from experiments.data.images import ImageScaler
from experiments.errors import ConfigError, DataError
from experiments.run.checkpoints import model_from_checkpoint
from experiments.run.inference import predict_raw
from experiments.tasks import task_from_state

log = logging.getLogger(__name__)

GIVE_FILES = "give input_dir=DIR or 'inputs=[a.png, b.jpg]'"


def is_image_checkpoint(checkpoint: dict[str, Any]) -> bool:
    """The checkpoint's model was trained on a folder of images (`experiment=images`)."""
    return "images" in (checkpoint["experiments"].get("data") or {})


def image_inputs(cfg: DictConfig) -> list[Path]:
    """The image files `input_dir` or `inputs` names."""
    input_dir, inputs = cfg.get("input_dir"), cfg.get("inputs")
    if cfg.get("input_csv") is not None:
        raise ConfigError(
            f"input_csv is for a model trained on a table, and this one was trained on images: "
            f"{GIVE_FILES}"
        )
    if (input_dir is None) == (inputs is None):
        raise ConfigError(f"give the images to predict: {GIVE_FILES}")
    if input_dir is not None:
        root = folder_path("input_dir", input_dir, "a folder of PNG or JPEG files")
        files, skipped = image_files_under(root)
        if skipped:
            log.info("%s", skipped_note(skipped, root))
        if not files:
            raise DataError(f"input_dir={root} holds no PNG or JPEG files")
        return files
    values = OmegaConf.to_container(inputs) if isinstance(inputs, ListConfig) else inputs
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise ConfigError(
            f"inputs={inputs} is not a list of image files: the model takes images, {GIVE_FILES}"
        )
    files = [Path(v).expanduser() for v in values]
    for path in files:
        if not path.is_file():
            raise DataError(f"inputs names {path}, which does not exist: give image files")
    return files


def probabilities(task, outputs: np.ndarray) -> np.ndarray:
    """One probability per class: a binary model's one output p is (1 - p, p)."""
    return np.column_stack([1 - outputs[:, 0], outputs[:, 0]]) if task.name == "binary" else outputs


def predict_images(cfg: DictConfig, checkpoint: dict[str, Any]) -> pd.DataFrame:
    """Return the predictions as a pandas DataFrame and write `<output_dir>/predictions.csv`."""
    state = checkpoint["experiments"]["data"]
    images = state["images"]
    options = ImageOptions(tuple(images["image_size"]), images["color"])
    files = image_inputs(cfg)
    pixels = np.stack([read_image(path, options)[0] for path in files])
    scaler, task = ImageScaler.from_state(state["scaler"]), task_from_state(state["task"])
    model = model_from_checkpoint(checkpoint)
    outputs = predict_raw(model, scaler, task, pixels)
    chosen = task.predicted(outputs).numpy()
    outputs = outputs.numpy()
    table = pd.DataFrame({"path": [str(p) for p in files]})
    table["class"] = np.asarray(task.classes, dtype=object)[chosen]
    for name, column in zip(task.classes, probabilities(task, outputs).T, strict=True):
        table[f"p({name})"] = column
    output_dir = Path(cfg.output_dir)
    write_csv_atomic(output_dir / "predictions.csv", table)
    return table
