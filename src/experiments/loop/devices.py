"""The GPU a run asks for, checked before any work: the config checks' only use of torch."""

from __future__ import annotations

from experiments.errors import ConfigError


def check_gpu(accelerator: str) -> None:
    """One line when `trainer.accelerator=gpu` (or cuda) asks for a GPU this machine lacks."""
    import torch

    if not torch.cuda.is_available():
        raise ConfigError(
            f"trainer.accelerator={accelerator} but this machine has no CUDA GPU: "
            "use trainer.accelerator=cpu or trainer.accelerator=auto"
        )


def gpu_free_bytes() -> int | None:
    """Free memory of the CUDA device with the most free (a network that fits none of them cannot
    train); None where there is none."""
    import torch

    if not torch.cuda.is_available():
        return None
    return max(torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count()))
