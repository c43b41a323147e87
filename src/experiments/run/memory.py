"""Whether a network can fit in memory, judged from its `Architecture` before anything is allocated.

`needed_bytes` is a lower bound on what one training step must hold at once: the weights and
their gradients (and the optimizer's state: momentum one tensor per weight, Adam two) of every
network (two with compare=true, one per member in a population), and one batch's activations
(every layer's output, kept for the backward pass, or at least the widest layer's output and its
gradient), at the configured precision. Temporaries, the data and Python itself come on top, so a
run refused here could not have fitted; a run that is not refused may still be tight.
`check_fits` refuses in one line when that bound exceeds what the machine has available
(Linux's MemAvailable plus free swap; a GPU's free memory when the run trains on one). Torch-free.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

from experiments.architecture import Architecture
from experiments.errors import ConfigError
from experiments.loop.devices import gpu_free_bytes

OPTIMIZER_SLOTS = {"sgd": 0, "momentum": 1, "adam": 2}  # tensors of state per weight
# (weights, activations) bytes per number: mixed precision keeps float32 weights
PRECISION_BYTES = {
    "64-true": (8, 8),
    "32-true": (4, 4),
    "16-mixed": (4, 2),
    "bf16-mixed": (4, 2),
    "16-true": (2, 2),
    "bf16-true": (2, 2),
}
PRECISION_ALIASES = {"64": "64-true", "32": "32-true", "16": "16-mixed", "bf16": "bf16-mixed"}


def parameter_count(arch: Architecture) -> int:
    """Weights and biases of the convolution blocks and the dense layers."""
    count = 0
    if arch.channels:
        shapes = arch.feature_shapes()
        for (c_in, _, _), (c_out, _, _) in itertools.pairwise(shapes):
            count += c_out * c_in * arch.kernel_size**2 + (c_out if arch.bias else 0)
    sizes = arch.sizes
    for n_in, n_out in itertools.pairwise(sizes):
        count += n_in * n_out + (n_out if arch.bias else 0)
    return count


def layer_outputs(arch: Architecture) -> list[int]:
    """Numbers per row out of each layer: each block's feature maps, then each dense width."""
    maps = [math.prod(shape) for shape in arch.feature_shapes()[1:]] if arch.channels else []
    return [*maps, *arch.sizes[1:]]


@dataclass(frozen=True)
class Footprint:
    """What a run trains: its network, how many at once, on how many rows, at what precision."""

    arch: Architecture
    batch_rows: int  # a training batch
    eval_rows: int  # the larger of the validation and test splits (evaluated whole)
    precision: str = "32-true"
    networks: int = 1  # compare=true: 2; a population: its members

    def needed_bytes(self) -> int:
        weight_bytes, value_bytes = PRECISION_BYTES[
            PRECISION_ALIASES.get(self.precision, self.precision)
        ]
        slots = OPTIMIZER_SLOTS.get(self.arch.optimizer, 0)
        weights = parameter_count(self.arch) * (2 + slots) * weight_bytes
        outputs = layer_outputs(self.arch)
        widest = max(outputs)
        training = self.batch_rows * max(sum(outputs), 2 * widest)
        evaluation = self.eval_rows * widest
        return self.networks * (weights + max(training, evaluation) * value_bytes)

    def describe(self) -> str:
        several = f" x {self.networks} networks" if self.networks > 1 else ""
        return (
            f"the network {self.arch.layout()}{several} needs at least {size(self.needed_bytes())}"
            f" (weights, gradients, optimizer state and a batch of {self.batch_rows} rows' "
            f"activations at precision {self.precision})"
        )


def size(n_bytes: float) -> str:
    """`12.3 GiB`, `512.0 MiB`, `900 B`."""
    unit = "B"
    for larger in ("KiB", "MiB", "GiB", "TiB"):
        if n_bytes < 1024:
            break
        n_bytes, unit = n_bytes / 1024, larger
    return f"{n_bytes:.1f} {unit}" if unit != "B" else f"{int(n_bytes)} B"


def available_bytes(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """MemAvailable plus SwapFree, from Linux's /proc/meminfo; None where there is none."""
    try:
        lines = meminfo.read_text().splitlines()
    except OSError:
        return None
    fields = {name: value.split() for name, _, value in (line.partition(":") for line in lines)}
    if "MemAvailable" not in fields:
        return None
    kib = int(fields["MemAvailable"][0]) + int(fields.get("SwapFree", ["0"])[0])
    return kib * 1024


def check_fits(footprint: Footprint, available: int | None, where: str = "memory") -> None:
    """A `ConfigError` when the footprint's lower bound exceeds `available` bytes (None: unknown,
    not checked)."""
    if available is None or footprint.needed_bytes() <= available:
        return
    fewer = (
        " or fewer networks at once (compare=false, fewer members)"
        if footprint.networks > 1
        else ""
    )
    raise ConfigError(
        f"{footprint.describe()}, and this machine has {size(available)} of {where} "
        f"available: use smaller model.hidden or model.channels, a smaller data.batch_size"
        f"{fewer}"
    )


def check_memory(cfg, arch: Architecture, datamodule, members: int = 1) -> None:
    """The run's footprint (`cfg` and the set-up data module give the rest) against this
    machine's memory, and against the GPU's where it trains on one; `members`: a population's."""
    train_rows = len(datamodule.train_xy[0])
    footprint = Footprint(
        arch,
        batch_rows=min(datamodule.batch_size or train_rows, train_rows),
        eval_rows=max(len(datamodule.val_xy[0]), len(datamodule.test_xy[0])),
        precision=str(cfg.trainer.get("precision", "32-true")),
        networks=members * (2 if cfg.get("compare") is True else 1),
    )
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    gpu = gpu_free_bytes() if accelerator in ("gpu", "cuda", "auto") else None
    check_fits(
        footprint,
        gpu if gpu is not None else available_bytes(),
        "GPU memory" if gpu is not None else "memory",
    )
