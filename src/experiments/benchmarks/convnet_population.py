"""A 256-member population of digits_cnn convnets against one digits_cnn convnet, the same steps.

Two views, each side measured in turn in one process, so a slower moment of a shared machine
falls on both:
- the arithmetic: the vectorized sweeper's scratch step (`sweeps.population`: the batch unfolded
  once, the first convolution one matrix product for every member, the rest batched over the
  member dimension; hand-written backward; per-member Adam) against one scratch convnet's step
  (core's layers, core's Adam), on digits_cnn's architecture and a full batch of digits'
  training split, float32;
- whole commands: a 256-point vectorized sweep (16 lr x 16 seeds) against one ordinary run,
  each `scripts/train.py` as a user types it, with the population's train phase from its log.
`python -c "from experiments.benchmarks.convnet_population import main; main()"`.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from experiments.architecture import Architecture
from experiments.benchmarks.grids import PHASES, learning_rates, timed_train
from experiments.core.losses import CrossEntropyLoss
from experiments.core.network import build_network
from experiments.core.optimizers import optimizer_for
from experiments.models.run_layers import ACTIVATIONS, Linear
from experiments.models.scratch import CONV_LAYERS
from experiments.sweeps.population import layers as member_losses
from experiments.sweeps.population.allocator import keep_freed_memory
from experiments.sweeps.population.optimizers import member_optimizer
from experiments.sweeps.population.stacking import stack_networks

ROOT = Path(__file__).resolve().parents[3]
MEMBERS = 256
ROWS = 1150  # digits' training split: 1,797 rows less 20 % for test, less 20 % for validation
TARGET = 3.0  # the population's time at most 3x one convnet's


def digits_cnn_architecture() -> Architecture:
    """conf/experiment/digits_cnn.yaml's model keys on digits' 1x8x8 images, 10 classes."""
    model = OmegaConf.load(ROOT / "conf" / "experiment" / "digits_cnn.yaml").model
    return Architecture.from_config(model, n_inputs=64, n_outputs=10, image_shape=(1, 8, 8))


def _batch(members: int | None = None, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(ROWS, 64, generator=generator)
    labels = torch.randint(10, (ROWS,), generator=generator)
    y = torch.eye(10)[labels]
    y = y if members is None else y.expand(members, ROWS, 10)
    return x.to(device), y.to(device)


def _convnet(arch: Architecture, seed: int, device: str = "cpu") -> torch.nn.Sequential:
    torch.manual_seed(seed)
    net = build_network(arch, Linear, ACTIVATIONS, CONV_LAYERS.container, conv=CONV_LAYERS)
    return net.to(device)


def one_convnet_loop(steps: int, device: str = "cpu") -> float:
    """`steps` updates of one scratch digits_cnn convnet; its last loss."""
    arch = digits_cnn_architecture()
    net, loss_fn, (x, y) = _convnet(arch, 0, device), CrossEntropyLoss(), _batch(device=device)
    optimizer = optimizer_for(arch, net.parameters())
    loss = torch.tensor(float("nan"))
    with torch.no_grad():
        for _ in range(steps):
            loss = loss_fn.forward(net.forward(x), y)
            net.backward(loss_fn.backward())
            optimizer.update()
    return loss.item()


def population_loop(steps: int, members: int = MEMBERS, device: str = "cpu") -> torch.Tensor:
    """`steps` updates of `members` digits_cnn convnets (seeds 0.., learning rates 1e-4 to
    1e-2), stacked as the vectorized sweeper stacks them; each member's last loss."""
    arch = digits_cnn_architecture()
    net = stack_networks([_convnet(arch, seed, device) for seed in range(members)])
    lrs = torch.logspace(-4, -2, members, dtype=torch.float64, device=device)
    optimizer = member_optimizer(arch, net.parameters(), lrs)
    loss_fn, (x, y) = member_losses.CrossEntropyLoss(), _batch(members, device)
    losses = torch.full((members,), float("nan"))
    with torch.no_grad():
        for _ in range(steps):
            losses = loss_fn.forward(net.forward(x), y)
            net.backward(loss_fn.backward())
            optimizer.update()
    return losses


def _seconds(loop, steps: int, device: str) -> float:
    started = time.perf_counter()
    loop(steps, device=device)
    if device == "cuda":  # the GPU's queue, not its launch
        torch.cuda.synchronize()
    return time.perf_counter() - started


def arithmetic_figures(steps: int = 5, rounds: int = 3) -> dict[str, float]:
    """Seconds per step of each side (medians over rounds, after a warm-up) and their ratio, on
    every device torch sees, with freed memory kept as the vectorized sweeper keeps it
    (`population.allocator`). On the CPU each side is timed with one thread and with torch's
    default and keeps its faster: on a 2-core VM two threads make one convnet's small ops wait on
    each other (~10x slower), which would flatter the population's ratio."""
    keep_freed_memory()
    default = torch.get_num_threads()
    figures = {}
    for device in ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]:
        on = "" if device == "cpu" else f", {device}"
        counts = sorted({1, default}) if device == "cpu" else [default]
        timed = [_timed(steps, rounds, device, threads) for threads in counts]
        population, single = min(t[0] for t in timed), min(t[1] for t in timed)
        figures |= {
            f"{MEMBERS}-member convnet population step (arithmetic{on}), ms": population * 1e3,
            f"one convnet step (arithmetic{on}), ms": single * 1e3,
            f"{MEMBERS}-member convnet population / one convnet (arithmetic{on})": (
                population / single
            ),
        }
    torch.set_num_threads(default)
    return figures


def _timed(steps: int, rounds: int, device: str, threads: int) -> tuple[float, float]:
    """(population, one convnet) seconds per step with `threads` torch threads."""
    torch.set_num_threads(threads)
    population_loop(1, device=device), one_convnet_loop(1, device)  # warm-up
    ours, one = [], []
    for _ in range(rounds):
        ours.append(_seconds(population_loop, steps, device) / steps)
        one.append(_seconds(one_convnet_loop, steps, device) / steps)
    return statistics.median(ours), statistics.median(one)


def sweep_figures(out: Path, steps: int = 10, python: str = sys.executable) -> dict[str, float]:
    """A 16 lr x 16 seeds digits_cnn sweep by the vectorized sweeper, and one ordinary digits_cnn
    run, both `steps` steps: whole commands, the population's train phase, and their ratios."""
    import re

    keys = ["experiment=digits_cnn", f"trainer.max_steps={steps}"]
    one, _ = timed_train(ROOT, python, out / "cnn_one", *keys, f"hydra.run.dir={out / 'cnn_one'}")
    sweep_dir = out / "cnn_population"
    whole, output = timed_train(
        ROOT,
        python,
        sweep_dir,
        "-m",
        *keys,
        f"model.lr={learning_rates(16)}",
        "seed=range(16)",
        "hydra/sweeper=vectorized",
        f"hydra.sweep.dir={sweep_dir}",
    )
    logs = output + "".join(p.read_text() for p in sweep_dir.glob("population_*/*.log"))
    found = re.search(PHASES["train"], logs)
    train = float(found.group(1)) if found else float("nan")
    name = f"{MEMBERS}-point digits_cnn vectorized sweep ({steps} steps)"
    return {
        f"one ordinary digits_cnn run ({steps} steps), s": one,
        f"{name}, s": whole,
        f"{name}: train, s": train,
        f"{name} / one run": whole / one,
    }


def main() -> None:
    figures = arithmetic_figures()
    ratio = figures[f"{MEMBERS}-member convnet population / one convnet (arithmetic)"]
    verdict = "meets" if ratio <= TARGET else "misses"
    for name, value in figures.items():
        print(f"{name}: {value:.3g}")
    print(f"({verdict} the target <= {TARGET})")
