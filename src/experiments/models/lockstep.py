"""`compare=true`: the scratch and the autograd network trained in lockstep, and how far they part.

`LockstepModule` holds a `ScratchModule` and an `MLPModule` built from the same `model.*` keys,
the autograd one starting from a copy of the scratch one's weights (with `model=scratch` or
`model=mlp` alike). Every update feeds both the same (x, y) and steps both optimizers; then each
parameter's gradient and new weight are compared (their largest absolute difference). One above
the tolerance stops the run with a `ParityError` naming the quantity, the parameter, the value
and the step; a non-finite scratch loss is a divergence, as in a plain run.

Everything else is the scratch model's: validation, test, pictures, histograms, `weights.pth`,
so a compare run's scratch network follows the same trajectory, bit for bit, as `model=scratch`.

Steps: "step N" is the state after N updates (as `DivergedError` counts): gradients at step N
are those computed from it, weights at step N are the result of update N.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from experiments.core.user_layers import suspect_user_layers
from experiments.errors import DivergedError, ParityError
from experiments.loop import chunking
from experiments.models.base import LessonModule
from experiments.models.mlp import MLPModule
from experiments.models.scratch import ScratchModule

# compare_tolerance=null picks by parameter dtype, from measured largest differences over whole
# runs (every lesson with sgd, momentum and adam, and longer, wider ones; README): float64 up to
# 5e-12, float32 up to 4e-5, while a wrong backward was off by 0.025 to 3.4 at its first step.
# In 16 bits rounding alone parts the two by more (xor, bf16: weights 0.5 apart after 2000
# steps), so there parity is logged and nothing stops the run unless compare_tolerance is given.
TOLERANCES = {
    torch.float64: 1e-8,
    torch.float32: 1e-3,
    torch.bfloat16: math.inf,
    torch.float16: math.inf,
}
WEIGHT_HINT = (
    "the gradients agreed, so the scratch optimizer's update is wrong, or rounding has added "
    "up: rerun with trainer.precision=64-true to tell"
)
QUANTITIES = ("gradient", "weight")  # rows of the difference tables
PREFIXES = ("grad", "weight")  # their metric names: parity/<prefix>/<layer>


def max_abs_diffs(a: list[Tensor], b: list[Tensor], extra: Sequence[Tensor] = ()) -> Tensor:
    """max |a_i - b_i| for each pair of tensors (NaN where either has NaN), then the 0-d
    tensors of `extra`, as one 1-D tensor. Tensors without autograd: no graph is recorded."""
    return torch.stack([*torch._foreach_norm(torch._foreach_sub(a, b), math.inf), *extra])


class LockstepModule(LessonModule):
    """`scratch` and `mlp` side by side: the same batches, the same initial weights, every
    gradient and weight compared after each update. Takes the `model.*` keys plus `tolerance`
    (`compare_tolerance`; None: `TOLERANCES` for the parameters' dtype)."""

    def __init__(self, tolerance: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scratch = ScratchModule(**kwargs)
        # The scratch network drew the run's initial weights, as in a plain scratch run; the
        # autograd one takes a copy, and its own draws leave the global RNG as it was.
        with torch.random.fork_rng(devices=[]):
            self.mlp = MLPModule(**kwargs)
        self.mlp.net.load_state_dict(self.scratch.net.state_dict())
        self.names = [name for name, _ in self.scratch.net.named_parameters()]
        self.tolerance = tolerance
        self.limit = math.inf  # the tolerance in force, set when training starts
        # Largest differences (rows: gradient, weight; a column per parameter): over the run,
        # and since TensorBoard last got them. Plain lists in checkpoints, so resume is exact.
        self.run_max = torch.zeros(2, len(self.names))
        self.window_max = torch.zeros(2, len(self.names))
        self._restored: dict[str, list] | None = None

    @property
    def net(self) -> torch.nn.Module:
        """The scratch network: what histograms, `weights.pth` and prediction see."""
        return self.scratch.net

    def forward(self, x: Tensor) -> Tensor:
        return self.scratch(x)

    def compute_loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return self.scratch.compute_loss(pred, y)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.scratch.configure_optimizers(), self.mlp.configure_optimizers()]

    def on_train_start(self) -> None:
        weight = next(self.scratch.net.parameters())  # layer 0 of a convnet only reshapes
        self.limit = self.tolerance if self.tolerance is not None else TOLERANCES[weight.dtype]
        state = self._restored or {"run": self.run_max.tolist(), "window": self.window_max.tolist()}
        self.run_max = torch.tensor(state["run"], dtype=weight.dtype, device=weight.device)
        self.window_max = torch.tensor(state["window"], dtype=weight.dtype, device=weight.device)
        self.params = [list(self.scratch.net.parameters()), list(self.mlp.net.parameters())]
        # Their values without autograd: aliases of the same storage, so every in-place update
        # shows in them.
        self.values = [[p.detach() for p in params] for params in self.params]
        # The weights' differences before the next update (not 0 after a resume of a drifted run).
        self.weight_diffs = max_abs_diffs(*self.values)
        if (writer := self._tensorboard()) is not None:
            writer.add_custom_scalars(self.layout())

    def training_step(self, batches: list[tuple[Tensor, Tensor]], batch_idx: int) -> None:
        """Per (x, y): both losses and gradients, both updates, then every gradient and weight
        compared. The scratch optimizer steps as in a plain run (`chunking.step`), so
        `global_step` counts its updates; the autograd one steps bare, so that no update is
        counted twice."""
        scratch_opt, mlp_opt = self.optimizers()
        for i, (x, y) in enumerate(batches):
            loss = self.scratch.loss_and_gradients(x, y)
            mlp_loss = self.mlp.loss_and_gradients(x, y)
            chunking.step(self.trainer, scratch_opt, i)
            mlp_opt.optimizer.step()
            self._check(loss)
        every = self.trainer.log_every_n_steps
        if every > 0 and (batch_idx + 1) % every == 0:
            metrics = {"train/loss": loss, "train/loss_autograd": mlp_loss}
            self.log_training({**metrics, **self._window_metrics()}, shown=("train/loss",))

    def _check(self, loss: Tensor) -> None:
        """The update's gradient and weight differences into the window's maxima; stop on a
        non-finite loss or a difference above the limit. Every update, at the cost of a few
        tiny tensor operations and one read-back (the stepped optimizers leave `.grad` as is)."""
        (scratch_params, mlp_params), (scratch_values, mlp_values) = self.params, self.values
        diffs = max_abs_diffs(
            [p.grad for p in scratch_params] + scratch_values,
            [p.grad for p in mlp_params] + mlp_values,
            extra=[loss - loss],  # NaN unless the loss is finite
        )
        table = diffs[:-1].view(2, -1)  # rows: gradient, weight
        torch.maximum(self.window_max, table, out=self.window_max)
        if not float(diffs.max()) <= self.limit:
            self._fail(table, loss)
        self.weight_diffs = table[1]

    def _fail(self, table: Tensor, loss: Tensor) -> None:
        """Raise what the update that failed `_check` shows, as of the step it started from:
        a non-finite loss, else a gradient, else a weight above the limit."""
        step = self.global_step - 1
        if not torch.isfinite(loss):
            raise DivergedError(step=step, loss=float(loss))
        grads, weights = table.tolist()
        row = 0 if any(not value <= self.limit for value in grads) else 1
        values = (grads, weights)[row]
        # The parameter nearest the loss: a wrong backward shows there first, and below it.
        i = max(i for i, value in enumerate(values) if not value <= self.limit)
        hint = self._gradient_hint(i) if row == 0 else WEIGHT_HINT
        # A gradient of the step the update started from; a weight of the step it made.
        raise ParityError(QUANTITIES[row], self.names[i], values[i], self.limit, step + row, hint)

    def _gradient_hint(self, i: int) -> str:
        """Where the bug is, or whether rounding could explain it: the weights it started from."""
        drift = float(self.weight_diffs.max())
        layer = self.names[i].split(".")[0]
        suspect = f"the backward of layer {layer} or of a layer after it is wrong"
        if yours := suspect_user_layers(self.scratch.net, [self.names[i]]):
            suspect += f" (most likely your {', '.join(yours)})"
        if drift == 0:
            return f"the weights were still equal, so {suspect}"
        return (
            f"the weights had parted by {drift:.3g}, so {suspect}, or this is rounding (a relu "
            "at its kink flips on less): rerun with trainer.precision=64-true to tell"
        )

    def _window_metrics(self) -> dict[str, Tensor]:
        """The largest differences since the last logging, per parameter and overall; then the
        window starts again."""
        metrics = self._named(self.window_max)
        self._close_window()
        return metrics

    def _close_window(self) -> None:
        torch.maximum(self.run_max, self.window_max, out=self.run_max)
        self.window_max.zero_()

    def _named(self, table: Tensor) -> dict[str, Tensor]:
        metrics = {}
        for row, prefix in enumerate(PREFIXES):
            metrics.update(
                {f"parity/{prefix}/{n}": v for n, v in zip(self.names, table[row], strict=True)}
            )
            metrics[f"parity/max_{prefix}_diff"] = table[row].max()
        return metrics

    def on_train_end(self) -> None:
        """The run's maxima, per parameter and overall, for metrics.json (`tables`: they replace
        the last logged window there)."""
        self._close_window()
        self.tables.update({k: float(v) for k, v in self._named(self.run_max).items()})

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        parity = {"run": self.run_max.tolist(), "window": self.window_max.tolist()}
        checkpoint["experiments"]["parity"] = parity

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        self._restored = checkpoint["experiments"].get("parity")

    def layout(self) -> dict:
        """TensorBoard's Custom Scalars tab: both losses on one chart, the differences per
        parameter on two more (tags are regular expressions)."""
        return {
            "scratch vs autograd": {
                "train/loss: scratch and autograd": [
                    "Multiline",
                    ["^train/loss$", "^train/loss_autograd$"],
                ],
                "largest gradient difference per parameter": ["Multiline", ["^parity/grad/"]],
                "largest weight difference per parameter": ["Multiline", ["^parity/weight/"]],
            }
        }

    def _tensorboard(self):
        from lightning.pytorch.loggers import TensorBoardLogger

        logger = self.logger
        return logger.experiment if isinstance(logger, TensorBoardLogger) else None
