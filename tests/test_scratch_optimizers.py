"""Hand-written optimizers against torch.optim, in float64: same trajectories, same checkpoints."""

from __future__ import annotations

import importlib
import io
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from experiments.architecture import Architecture
from experiments.core.optimizers import (
    OPTIMIZERS,
    SGD,
    Adam,
    Momentum,
    make_optimizer,
)
from experiments.errors import ConfigError
from experiments.sweeps.population.optimizers import MEMBER_OPTIMIZERS, member_optimizer

TOL = 1e-12
STEPS = 100
DTYPE = torch.float64

# name -> (learning rate, extra knobs, the torch.optim reference with the same knobs)
CASES: dict[str, tuple[float, dict, Callable[..., torch.optim.Optimizer]]] = {
    "sgd": (0.1, {}, lambda ps, **kw: torch.optim.SGD(ps, foreach=False, **kw)),
    "momentum": (
        0.05,
        {"momentum": 0.8},
        lambda ps, **kw: torch.optim.SGD(ps, dampening=0, nesterov=False, foreach=False, **kw),
    ),
    "adam": (
        0.01,
        {"betas": (0.8, 0.99), "eps": 1e-8},
        lambda ps, **kw: torch.optim.Adam(ps, amsgrad=False, foreach=False, **kw),
    ),
}


def init_params(members: int | None = None, seed: int = 0) -> list[Tensor]:
    """A 3 -> 5 -> 2 network's W1, b1, W2, b2; with `members`, a leading member dimension."""
    gen = torch.Generator().manual_seed(seed)
    lead = () if members is None else (members,)
    shapes = [(5, 3), (5,), (2, 5), (2,)]
    return [torch.randn(*lead, *s, generator=gen, dtype=DTYPE).requires_grad_() for s in shapes]


def batch(seed: int = 1) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(16, 3, generator=gen, dtype=DTYPE), torch.randn(
        16, 2, generator=gen, dtype=DTYPE
    )


def backward(params: list[Tensor], x: Tensor, y: Tensor) -> None:
    """Gradients of the MSE of tanh(x W1^T + b1) W2^T + b2, per member when stacked."""
    w1, b1, w2, b2 = params
    for p in params:
        p.grad = None
    h = torch.tanh(x @ w1.mT + b1.unsqueeze(-2))
    loss = ((h @ w2.mT + b2.unsqueeze(-2) - y) ** 2).mean(dim=(-2, -1)).sum()
    loss.backward()


def train(opt: torch.optim.Optimizer, params: list[Tensor], steps: int, y: Tensor | None = None):
    x, y0 = batch()
    for _ in range(steps):
        backward(params, x, y0 if y is None else y)
        opt.step()


def max_diff(a: list[Tensor], b: list[Tensor]) -> float:
    return max((p - q).abs().max().item() for p, q in zip(a, b, strict=True))


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch_optim(name: str, weight_decay: float) -> None:
    lr, knobs, reference = CASES[name]
    ours, theirs = init_params(), init_params()
    train(OPTIMIZERS[name](ours, lr=lr, weight_decay=weight_decay, **knobs), ours, STEPS)
    train(reference(theirs, lr=lr, weight_decay=weight_decay, **knobs), theirs, STEPS)
    assert max_diff(ours, theirs) < TOL
    assert max_diff(ours, init_params()) > 0.1  # it did train


def checkpoint(opt: torch.optim.Optimizer) -> dict:
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("per_member", [False, True])
@pytest.mark.parametrize("name", list(CASES))
def test_state_dict_round_trip_is_exact(name: str, per_member: bool) -> None:
    lr, knobs, _ = CASES[name]
    members = 3 if per_member else None
    rate = torch.tensor([lr, lr / 2, 0.0], dtype=DTYPE) if per_member else lr
    kind = MEMBER_OPTIMIZERS if per_member else OPTIMIZERS
    make = lambda ps: kind[name](ps, lr=rate, weight_decay=0.01, **knobs)  # noqa: E731

    straight = init_params(members)
    train(make(straight), straight, STEPS)

    first = init_params(members)
    opt = make(first)
    train(opt, first, STEPS // 2)
    saved = checkpoint(opt)
    resumed = [p.detach().clone().requires_grad_() for p in first]
    opt = make(resumed)
    opt.load_state_dict(saved)
    train(opt, resumed, STEPS - STEPS // 2)

    assert all(torch.equal(p, q) for p, q in zip(straight, resumed, strict=True))


def test_loads_torch_adam_checkpoint() -> None:
    """Same state keys as torch.optim.Adam: its checkpoint resumes here, and on the same path."""
    lr, knobs, reference = CASES["adam"]
    theirs = init_params()
    opt = reference(theirs, lr=lr, **knobs)
    train(opt, theirs, STEPS // 2)
    ours = [p.detach().clone().requires_grad_() for p in theirs]
    mine = Adam(ours, lr=lr, **knobs)
    mine.load_state_dict(checkpoint(opt))
    train(opt, theirs, STEPS // 2)
    train(mine, ours, STEPS // 2)
    assert max_diff(ours, theirs) < TOL


@pytest.mark.parametrize("name", list(CASES))
def test_per_member_lr_is_each_member_alone(name: str) -> None:
    """Stacked members with lrs (lr, 0, lr/3): members 0 and 2 follow lone runs with their lr;
    member 1 has NaN targets (it diverged) and lr 0, and keeps its weights bit for bit."""
    lr, knobs, _ = CASES[name]
    lrs = torch.tensor([lr, 0.0, lr / 3], dtype=DTYPE)
    _, y = batch()
    ys = torch.stack([y, torch.full_like(y, float("nan")), y])
    stacked = init_params(members=3)
    start = [p.detach().clone() for p in stacked]
    train(MEMBER_OPTIMIZERS[name](stacked, lr=lrs, weight_decay=0.01, **knobs), stacked, STEPS, ys)

    assert all(torch.equal(p[1], q[1]) for p, q in zip(stacked, start, strict=True))
    for m in (0, 2):
        alone = [q[m].clone().requires_grad_() for q in start]
        opt = OPTIMIZERS[name](alone, lr=lrs[m].item(), weight_decay=0.01, **knobs)
        train(opt, alone, STEPS)
        assert max_diff([p[m] for p in stacked], alone) < TOL
        assert max_diff(alone, [q[m] for q in start]) > 0.01


@pytest.mark.parametrize("name", list(CASES))
def test_per_member_update_is_bit_exact(name: str) -> None:
    """Given each member's own gradient bit for bit (g = h * sin p, elementwise), the stacked
    update is the lone one bit for bit: the 1e-16 above comes from the batched matmul."""
    lr, knobs, _ = CASES[name]
    lrs = torch.tensor([lr, lr / 3], dtype=DTYPE)
    stacked = [p.detach() for p in init_params(members=2)]
    alone = [p[1].clone() for p in stacked]
    curvature = [torch.linspace(0.5, 1.5, p.numel(), dtype=DTYPE).view(p.shape) for p in stacked]
    together = MEMBER_OPTIMIZERS[name](stacked, lr=lrs, weight_decay=0.01, **knobs)
    single = OPTIMIZERS[name](alone, lr=lrs[1].item(), weight_decay=0.01, **knobs)
    for _ in range(STEPS):
        for p, q, h in zip(stacked, alone, curvature, strict=True):
            p.grad, q.grad = h * torch.sin(p), h[1] * torch.sin(q)
        together.step()
        single.step()
    assert all(torch.equal(p[1], q) for p, q in zip(stacked, alone, strict=True))


def test_lr_zero_float_leaves_weights_untouched() -> None:
    params = init_params()
    start = [p.detach().clone() for p in params]
    for p in params:
        p.grad = torch.full_like(p, float("nan"))
    Adam(params, lr=0.0).step()
    assert all(torch.equal(p, q) for p, q in zip(params, start, strict=True))


def test_per_member_lr_must_fit_every_parameter() -> None:
    params = init_params(members=3)
    backward(params, *batch())
    with pytest.raises(ValueError, match="member dimension"):
        MEMBER_OPTIMIZERS["sgd"](params, lr=torch.full((4,), 0.1, dtype=DTYPE)).step()
    with pytest.raises(ValueError, match="1-D"):
        MEMBER_OPTIMIZERS["sgd"](params, lr=torch.full((3, 1), 0.1, dtype=DTYPE))
    with pytest.raises(ValueError, match=">= 0"):
        MEMBER_OPTIMIZERS["sgd"](params, lr=torch.tensor([0.1, -0.1, 0.1], dtype=DTYPE))
    with pytest.raises(ValueError, match=">= 0"):
        SGD(params, lr=-0.1)


@pytest.mark.parametrize("name", list(CASES))
def test_step_builds_no_graph(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With grad mode on and parameters that require grad, a step saves nothing for backward,
    leaves the parameters as leaves, and never calls torch.optim's own update."""

    def forbidden(*args, **kwargs):
        raise AssertionError("called torch optim")

    for module in ("sgd", "adam"):
        functional = importlib.import_module(f"torch.optim.{module}")
        monkeypatch.setattr(functional, module, forbidden)
    lr, knobs, _ = CASES[name]
    params = init_params(members=2)
    opt = MEMBER_OPTIMIZERS[name](params, lr=torch.tensor([lr, lr], dtype=DTYPE), **knobs)
    backward(params, *batch())
    saved = []
    with (
        torch.autograd.set_grad_enabled(True),
        torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t),
    ):
        opt.step()
    assert saved == []
    assert all(p.is_leaf and p.grad_fn is None and p.requires_grad for p in params)
    state = [t for s in opt.state.values() for t in s.values()]
    assert len(state) == {"sgd": 0, "momentum": 4, "adam": 12}[name]
    assert all(not t.requires_grad and t.grad_fn is None for t in state)
    with pytest.raises(AssertionError, match="called torch optim"):
        CASES[name][2](params, lr=lr, **knobs).step()  # the patch does catch torch's step


def test_step_calls_closure_with_grad_and_returns_its_loss() -> None:
    params = init_params()
    opt = Momentum(params, lr=0.1)

    def closure() -> Tensor:
        assert torch.is_grad_enabled()
        backward(params, *batch())
        return torch.tensor(1.5)

    with torch.no_grad():
        assert opt.step(closure).item() == 1.5
    assert opt.state[params[0]]["momentum_buffer"].abs().sum() > 0


def test_make_optimizer_passes_only_its_knobs() -> None:
    kw = {"lr": 0.1, "momentum": 0.5, "betas": [0.8, 0.9], "eps": 1e-6, "weight_decay": 0.01}
    sgd, mom, adam = (make_optimizer(n, init_params(), **kw) for n in ("sgd", "momentum", "adam"))
    assert type(sgd) is SGD and "momentum" not in sgd.defaults
    assert type(mom) is Momentum and mom.defaults["momentum"] == 0.5 and "betas" not in mom.defaults
    assert type(adam) is Adam and adam.defaults["betas"] == (0.8, 0.9)
    assert adam.defaults["eps"] == 1e-6 and "momentum" not in adam.defaults
    assert {o.defaults["weight_decay"] for o in (sgd, mom, adam)} == {0.01}
    with pytest.raises(ConfigError, match="unknown"):
        make_optimizer("rmsprop", init_params(), lr=0.1)


@pytest.mark.parametrize("name", list(CASES))
def test_a_rate_zeroed_in_place_freezes_that_member_from_then_on(name: str) -> None:
    """As a population freezes a member that diverged: its lr is multiplied by 0 in place
    between updates (the optimizer's per-parameter views of the rates must follow)."""
    lr, knobs, _ = CASES[name]
    stacked = [p.detach() for p in init_params(members=2)]
    opt = MEMBER_OPTIMIZERS[name](stacked, lr=torch.tensor([lr, lr], dtype=DTYPE), **knobs)
    for _ in range(3):
        for p in stacked:
            p.grad = torch.sin(p)
        opt.step()
    opt.param_groups[0]["lr"].mul_(torch.tensor([1.0, 0.0], dtype=DTYPE))
    before = [p.clone() for p in stacked]
    for p in stacked:
        p.grad = torch.sin(p)
        p.grad[1] = float("nan")
    opt.step()
    assert all(torch.equal(p[1], q[1]) for p, q in zip(stacked, before, strict=True))
    assert all(not torch.equal(p[0], q[0]) for p, q in zip(stacked, before, strict=True))


def test_member_optimizer_is_the_architectures_rule_with_per_member_rates() -> None:
    """The population's optimizer: the rule and knobs the architecture names, one lr a member."""
    arch = Architecture(3, 2, (5,), optimizer="adam", betas=(0.8, 0.9), eps=1e-6)
    lrs = torch.tensor([0.1, 0.2, 0.0], dtype=DTYPE)
    opt = member_optimizer(arch, init_params(members=3), lrs)
    assert isinstance(opt, Adam) and type(opt) is MEMBER_OPTIMIZERS["adam"]
    assert opt.defaults["betas"] == (0.8, 0.9) and opt.defaults["eps"] == 1e-6
    assert opt.param_groups[0]["lr"] is lrs
