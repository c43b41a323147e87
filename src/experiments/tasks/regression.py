"""Regression: real-valued outputs, metrics in the data's own units."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from experiments.tasks.base import RawPredict, Task, _as_float_tensor

if TYPE_CHECKING:
    from torch import Tensor


class RegressionTask(Task):
    """Real-valued outputs, trained on (y - target_offset) / target_scale; MAE, RMSE, R^2 and
    the baseline of predicting the training mean, all in the data's own units."""

    name = "regression"
    metric = "mae"
    model_defaults: ClassVar[dict[str, str]] = {"output_activation": "identity", "loss": "mse"}

    def __init__(
        self,
        target_scale: float | list[float] = 1.0,
        target_offset: float | list[float] = 0.0,
        train_mean: list[float] | None = None,
        names: list[str] | None = None,
        standardize: bool = False,
    ) -> None:
        self.target_scale, self.target_offset = target_scale, target_offset
        self.train_mean, self.names = train_mean, names
        self.standardize = standardize

    def fit(self, y_train: np.ndarray) -> None:
        """The training mean (the baseline), and with `standardize` the targets' mean and
        standard deviation (a constant column keeps scale 1)."""
        self.train_mean = y_train.mean(axis=0).tolist()
        if self.standardize:
            std = y_train.std(axis=0)
            self.target_offset = self.train_mean
            self.target_scale = np.where(std > 0, std, 1.0).tolist()

    def _affine(self, like: Tensor) -> tuple[Tensor, Tensor]:
        """(scale, offset) as tensors beside `like`."""
        import torch

        values = (self.target_scale, self.target_offset)
        return tuple(torch.as_tensor(v, dtype=like.dtype, device=like.device) for v in values)

    def targets(self, y_raw: Any) -> Tensor:
        y = super().targets(y_raw)
        scale, offset = self._affine(y)
        return (y - offset) / scale

    def outputs(self, y_model: Tensor) -> Tensor:
        scale, offset = self._affine(y_model)
        return y_model * scale + offset

    def evaluate(self, stage: str, pred: Tensor, y: Tensor) -> dict[str, Tensor]:
        import torch
        from torchmetrics.functional import mean_absolute_error, mean_squared_error, r2_score

        pred, y = self.outputs(pred), self.outputs(y)
        metrics = {f"{stage}/mae": mean_absolute_error(pred, y)}
        if stage == "test":
            metrics["test/rmse"] = mean_squared_error(pred, y, squared=False)
            metrics["test/r2"] = r2_score(pred, y)
            if self.train_mean is not None:
                mean = torch.as_tensor(self.train_mean, dtype=y.dtype, device=y.device)
                baseline = mean.expand_as(y).contiguous()
                metrics["test/baseline_mae"] = mean_absolute_error(baseline, y)
        return metrics

    def evaluate_members(self, stage: str, pred: Tensor, y: Tensor) -> dict[str, Tensor]:
        """Validation MAE of every member at once (in the data's units, as `evaluate`); the
        test metrics, once per grid point's end, member by member."""
        if stage == "test":
            return super().evaluate_members(stage, pred, y)
        return {f"{stage}/mae": (self.outputs(pred) - self.outputs(y)).abs().mean(dim=(-2, -1))}

    def output_columns(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        if self.names and len(self.names) == outputs.shape[1]:
            return {f"predicted_{n}": outputs[:, j] for j, n in enumerate(self.names)}
        return {f"prediction_{j}": outputs[:, j] for j in range(outputs.shape[1])}

    def pictures(self, predict: RawPredict, x_raw: np.ndarray, y_raw: np.ndarray) -> dict:
        from experiments import figures

        truth = _as_float_tensor(y_raw)
        return {"predictions_vs_targets": figures.predictions_vs_targets(predict(x_raw), truth)}

    def state_dict(self) -> dict[str, Any]:
        kept = ("target_scale", "target_offset", "train_mean", "names")  # fitted: no standardize
        return {"name": self.name, **{key: getattr(self, key) for key in kept}}
