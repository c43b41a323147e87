"""The GPU path: runs only where CUDA is available, never faked."""

from __future__ import annotations

import pytest
import torch

from experiments.run.training import train

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.mark.parametrize("model", ["scratch", "mlp"])
def test_gpu_run_matches_cpu(make_cfg, model: str) -> None:
    cpu = train(make_cfg("experiment=xor", f"model={model}", "trainer.precision=64-true"))
    gpu = train(
        make_cfg(
            "experiment=xor",
            f"model={model}",
            "trainer.precision=64-true",
            "trainer.accelerator=gpu",
        )
    )
    assert gpu["status"] == "completed" and gpu["test/acc"] == 1.0
    assert gpu["test/loss"] == pytest.approx(cpu["test/loss"], rel=1e-6)


def test_a_population_on_the_gpu_follows_the_cpu() -> None:
    """The vectorized sweeper's arithmetic (what `scripts/benchmark.py` times per device)."""
    from experiments.benchmarks.population import population_loop

    torch.manual_seed(0)
    cpu = population_loop(1000, 300, "cpu")
    torch.manual_seed(0)
    gpu = population_loop(1000, 300, "cuda")
    assert torch.allclose(gpu, cpu, rtol=1e-3, atol=1e-5)


def test_a_convnet_population_on_the_gpu_follows_the_cpu() -> None:
    """The convnet population's arithmetic (shared unfold, member convolutions, pooling, Adam)."""
    from experiments.benchmarks.convnet_population import population_loop

    cpu = population_loop(10, members=8, device="cpu")
    gpu = population_loop(10, members=8, device="cuda")
    assert torch.allclose(gpu.cpu(), cpu, rtol=1e-3, atol=1e-5)
