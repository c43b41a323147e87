"""Gradient check: the scratch network's hand-written gradients on an experiment's real data.

`python scripts/gradcheck.py experiment=NAME [any conf/train.yaml override]` builds the
experiment's `model=scratch` network and data as training does (`run.build.build`: same seed,
same initial weights, same scaled training split), casts both to float64, and compares the
gradient of every parameter tensor (`0.weight`, `0.bias`, `2.weight`, ...) from the layers'
`backward` with two references:

- central finite differences of the scratch loss (`experiments.core.gradcheck`: the step, the
  sample of a big tensor's elements, the threshold and its noise floor, and why);
- autograd through the `torch.nn` network of the same config (`model=mlp`'s), same weights:
  rel < 1e-10, floor 1e-10 times the tensor's largest gradient. The same arithmetic in another
  order: only float64 rounding separates them (the worst seen: rel 2e-14).
The data is the whole training split as training gets it (every batch is a subset of its rows).
The table shows each tensor's largest rel and |a - b| against each reference.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from experiments.errors import ConfigError, ExperimentError

if TYPE_CHECKING:  # torch is imported when a check runs: a bad input is answered without it
    from torch import Tensor

    from experiments.architecture import Architecture
    from experiments.core.gradcheck import Comparison
    from experiments.models import ScratchModule

AUTOGRAD_RTOL = 1e-10
SCRATCH_TARGET = "experiments.models.ScratchModule"


@dataclass(frozen=True)
class TensorCheck:
    """One parameter tensor: its state_dict name, shape, and both comparisons."""

    name: str
    shape: tuple[int, ...]
    fd_elements: int
    finite_differences: Comparison
    autograd: Comparison

    @property
    def passed(self) -> bool:
        return self.finite_differences.passed and self.autograd.passed

    @property
    def disagrees_with(self) -> list[str]:
        """The references this tensor's hand-written gradient fails against."""
        pairs = (("finite differences", self.finite_differences), ("autograd", self.autograd))
        return [what for what, comparison in pairs if not comparison.passed]


@dataclass
class GradcheckResult:
    """Every tensor's check, and what it was computed on."""

    label: str
    rows: int
    loss: float
    autograd_loss: float
    tensors: list[TensorCheck] = field(default_factory=list)
    suspects: list[str] = field(default_factory=list)  # user layers a failure points to

    @property
    def failing(self) -> list[str]:
        """Names of the tensors that fail, in network order."""
        return [t.name for t in self.tensors if not t.passed]

    @property
    def passed(self) -> bool:
        return not self.failing


def compose_config(overrides: Sequence[str], config_dir: str | Path) -> DictConfig:
    """conf/train.yaml with command-line overrides: no run directory, no log file."""
    with initialize_config_dir(str(Path(config_dir).resolve()), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=True)


def autograd_reference(
    model: ScratchModule, x: Tensor, y: Tensor
) -> tuple[float, dict[str, Tensor]]:
    """Loss and gradients of the `torch.nn` network with `model`'s architecture and weights."""
    import torch

    from experiments.models import MLPModule

    with torch.random.fork_rng():  # its own initial draw is overwritten: leave the RNG be
        reference = MLPModule(**dict(model.hparams)).double()
    reference.net.load_state_dict(model.net.state_dict())
    named = dict(reference.net.named_parameters())
    loss = reference.compute_loss(reference(x), y)
    grads = torch.autograd.grad(loss, list(named.values()))
    return float(loss.detach()), dict(zip(named, grads, strict=True))


def gradcheck(cfg: DictConfig) -> GradcheckResult:
    """Check every parameter tensor of the configured scratch network (see the module doc)."""
    from experiments.run.config import check_config

    target = cfg.model.get("_target_")
    if target != SCRATCH_TARGET:
        raise ConfigError(
            f"gradcheck checks model=scratch's hand-written gradients, not {target}: "
            "leave out the model= override"
        )
    check_config(cfg)
    from experiments.core.user_layers import suspect_user_layers
    from experiments.run.build import build

    datamodule, model = build(cfg)
    model = model.double()
    x, y = (t.double() for t in datamodule.train_xy)
    from experiments.core.gradcheck import check_gradients, compare

    checked = check_gradients(model.net, model.loss_fn, x, y)
    autograd_loss, theirs = autograd_reference(model, x, y)
    result = GradcheckResult(_describe(cfg, model.arch), len(x), checked.loss, autograd_loss)
    for name, param in model.net.named_parameters():
        autograd_floor = AUTOGRAD_RTOL * float(theirs[name].abs().max())
        result.tensors.append(
            TensorCheck(
                name,
                tuple(param.shape),
                checked.elements[name],
                checked.finite_differences[name],
                compare(checked.gradients[name], theirs[name], AUTOGRAD_RTOL, autograd_floor),
            )
        )
    result.suspects = suspect_user_layers(model.net, result.failing)
    return result


def _describe(cfg: DictConfig, arch: Architecture) -> str:
    """`experiment=xor: 2-4-1 sigmoid/sigmoid, mse loss`: what was checked."""
    choices = cfg.get("hydra", {}).get("runtime", {}).get("choices", {})
    experiment = f"experiment={choices['experiment']}: " if choices.get("experiment") else ""
    bias = "" if arch.bias else ", no bias"
    activations = f"{arch.activation}/{arch.output_activation}"
    return f"{experiment}{arch.layout()} {activations}{bias}, {arch.loss} loss"


def format_report(result: GradcheckResult) -> str:
    """A header line, the table (one row per parameter tensor) and the verdict line."""
    header = ("tensor", "shape", "fd checked", "fd abs", "fd rel", "autograd abs", "autograd rel")
    rows = [
        (
            t.name,
            "x".join(map(str, t.shape)),
            f"{t.fd_elements}/{math.prod(t.shape)}"
            + (f" ({t.finite_differences.kinks} at a kink)" if t.finite_differences.kinks else ""),
            f"{t.finite_differences.max_abs:.1e}",
            f"{t.finite_differences.max_rel:.1e}",
            f"{t.autograd.max_abs:.1e}",
            f"{t.autograd.max_rel:.1e}",
            "ok" if t.passed else "FAIL",
        )
        for t in result.tensors
    ]
    table = [(*header, ""), *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) + 1)]
    return "\n".join(
        [
            f"gradcheck {result.label}; float64, {result.rows} training rows, "
            f"loss {result.loss:.6g} (autograd {result.autograd_loss:.6g})",
            *(
                "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                for row in table
            ),
            verdict(result),
        ]
    )


def verdict(result: GradcheckResult) -> str:
    """PASS, or FAIL naming each failing tensor and the reference it disagrees with."""
    from experiments.core.gradcheck import FD_RTOL, FD_STEP

    fd_floor = result.tensors[0].finite_differences.floor if result.tensors else 0.0
    limits = (
        f"rel < {FD_RTOL:g} vs finite differences (h = {FD_STEP:g}, floor {fd_floor:.1e}), "
        f"rel < {AUTOGRAD_RTOL:g} vs autograd (floor {AUTOGRAD_RTOL:g} x the tensor's largest)"
    )
    kinks = sum(t.finite_differences.kinks for t in result.tensors)
    if kinks:  # ReLU at 0, max-pool ties: see experiments.core.gradcheck
        limits += f"; {kinks} elements at a kink checked against autograd only"
    if result.passed:
        return f"PASS: every hand-written gradient within {limits}"
    failing = [
        f"{t.name} (vs {' and '.join(t.disagrees_with)})" for t in result.tensors if not t.passed
    ]
    failing += [f"most likely the backward of your {layer}" for layer in result.suspects]
    return f"FAIL: {', '.join(failing)}; limits: {limits}"


def one_line(message: str) -> str:
    """A Hydra error (several lines, tab-indented options) as one line, search path left out."""
    text = ""
    for raw in message.splitlines():
        if raw.startswith("Config search path"):
            break
        line = raw.strip()
        if not line or set(line) == {"^"}:
            continue
        if not text:
            text = line
        elif text.endswith(":"):
            text += f" {line}"
        elif raw.startswith("\t"):
            text += f", {line}"
        else:
            text += f"; {line}"
    return text


def main(argv: Sequence[str], config_dir: str | Path) -> int:
    """Compose, check, print; 0 when every gradient passes, 1 on a failure or a bad input."""
    if flags := [arg for arg in argv if arg.startswith("-")]:
        print(f"gradcheck: {' '.join(flags)}: give only overrides, KEY=VALUE", file=sys.stderr)
        return 1
    try:
        result = gradcheck(compose_config(argv, config_dir))
    except (ExperimentError, HydraException, OmegaConfBaseException) as err:
        cause = err.__cause__ if isinstance(err.__cause__, ExperimentError) else err
        print(f"gradcheck: {one_line(str(cause))}", file=sys.stderr)
        return 1
    print(format_report(result))
    return 0 if result.passed else 1
