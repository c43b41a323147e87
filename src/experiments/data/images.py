"""A user's folder of labelled images (`experiment=images data.path=DIR`): one sub-folder per class
of PNG or JPEG files, read by `experiments.data.image_folder`, split like a table, normalised per
channel with statistics of the training images only.

The model sees each image as C*H*W values (`data.layout=flat`, for dense networks) or as a
(C, H, W) array (`data.layout=image`, for convolutional ones); `image_shape` says (C, H, W).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from experiments.data.base import ArrayDataModule, Splits
from experiments.data.image_folder import (
    ImageOptions,
    check_layout,
    check_scaling,
    read_image_folder,
)
from experiments.data.splits import split_indices
from experiments.tasks import RawPredict, make_task, task_from_state

log = logging.getLogger(__name__)


@dataclass
class ImageScaler:
    """x_model = (pixel - mean[channel]) / std[channel], pixels as read (0-255), shaped as the
    model takes them (`layout`: flat rows or (C, H, W) images)."""

    mean: list[float]
    std: list[float]
    image_shape: list[int]  # (channels, height, width)
    layout: str = "flat"

    @classmethod
    def fit(
        cls, x_train: np.ndarray, image_shape: tuple[int, int, int], scaling: str, layout: str
    ) -> ImageScaler:
        """Per-channel mean and (population) standard deviation over every pixel of the
        training images; `scaling=none` keeps the pixels as they are."""
        check_scaling(scaling)
        channels = image_shape[0]
        if scaling == "none":
            return cls([0.0] * channels, [1.0] * channels, list(image_shape), layout)
        pixels = x_train.reshape(len(x_train), channels, -1)
        mean = pixels.mean(axis=(0, 2), dtype=np.float64)
        std = pixels.std(axis=(0, 2), dtype=np.float64)
        std[std < 10 * np.finfo(np.float64).eps] = 1.0  # a constant channel stays as it is
        return cls(mean.tolist(), std.tolist(), list(image_shape), layout)

    @property
    def n_features(self) -> int:
        return int(np.prod(self.image_shape))

    def inputs(self, x_raw: Any) -> Tensor:
        """Model inputs for raw pixels: rows of C*H*W values or (N, C, H, W) arrays."""
        x = torch.tensor(np.asarray(x_raw, dtype=np.float64)).reshape(-1, *self.image_shape)
        mean = torch.tensor(self.mean, dtype=torch.float64).view(-1, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float64).view(-1, 1, 1)
        x = x.sub_(mean).div_(std)
        return (x if self.layout == "image" else x.flatten(1)).float()

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ImageScaler:
        return cls(**state)


class ImageFolderDataModule(ArrayDataModule):
    """`data.path`: DIR/<class>/*.png|jpg|jpeg; every image read as `data.image_size` (one side,
    or [height, width]) in `data.color` (grayscale or rgb).

    Splits as a table's: test `test_size` (random_state `split_seed`), validation `val_size` of
    the rest, stratified by class. Class names (the folders' names, sorted) are the task's: two
    classes are a binary task (the second folder is class 1), more a multiclass one. The scaler
    and the task travel in checkpoints, so prediction takes raw image files.
    """

    def __init__(
        self,
        path: str,
        image_size: int | list[int] = 32,
        color: str = "rgb",
        layout: str = "flat",
        test_size: float = 0.2,
        val_size: float = 0.2,
        split_seed: int = 42,
        scaling: str = "standard",
        **kwargs,
    ) -> None:
        super().__init__(scaling=scaling, **kwargs)
        self.path = Path(path).expanduser()
        self.options = ImageOptions.from_config(
            dict(image_size=image_size, color=color, test_size=test_size, val_size=val_size)
        )
        check_layout(layout)
        check_scaling(scaling)
        self.layout = layout
        self.split_seed = split_seed
        self.files: dict[str, list[Path]] = {}  # the image files of each split, in split order

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of every image."""
        return self.options.shape

    def load_splits(self) -> Splits:
        folder = read_image_folder(self.path, self.options)
        for note in folder.notes:
            log.info("%s", note)
        classes = folder.classes
        self.task = make_task("binary" if len(classes) == 2 else "multiclass", classes=classes)
        rows = split_indices(
            folder.labels,
            len(classes),
            self.options.test_size,
            self.options.val_size,
            self.split_seed,
        )
        self.files = {
            stage: [folder.files[i] for i in index]
            for stage, index in zip(("train", "val", "test"), rows, strict=True)
        }
        x = folder.pixels.reshape(len(folder.pixels), -1)  # C*H*W values per image, uint8
        y = folder.labels.reshape(-1, 1).astype(np.float64)
        train, val, test = ((np.take(x, r, axis=0), y[r]) for r in rows)
        return Splits(*train, *val, *test)

    def fit_scaler(self, x_train: np.ndarray, names: list[str]) -> ImageScaler:
        return ImageScaler.fit(x_train, self.image_shape, self.scaling, self.layout)

    def pictures(self, predict: RawPredict) -> dict:
        from experiments import figures

        x_test, codes = self.splits.x_test, self.splits.y_test.ravel().astype(int)
        names = np.asarray(self.task.classes)
        guessed = self.task.predicted(predict(x_test)).numpy()
        images = x_test.reshape(len(x_test), *self.image_shape).transpose(0, 2, 3, 1)
        if images.shape[-1] == 1:  # shown in its own grey levels, not a colour map's
            images = images.repeat(3, axis=-1)
        return {
            "misclassified_images": figures.misclassified_images(
                images, names[codes].tolist(), names[guessed].tolist()
            )
        }

    def preprocessing_state(self) -> dict[str, Any]:
        height, width = self.options.image_size
        return {
            "images": {"image_size": [height, width], "color": self.options.color},
            "scaler": self.scaler.state_dict(),
            "task": self.task.state_dict(),
        }

    def load_preprocessing_state(self, state: dict[str, Any]) -> None:
        self.scaler = ImageScaler.from_state(state["scaler"])
        self.task = task_from_state(state["task"])
