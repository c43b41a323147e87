"""Train one experiment, or sweep with -m. Configs: conf/train.yaml; usage: README.md."""

import hydra
from omegaconf import DictConfig

from experiments.cli import run_training
from experiments.run.entry import run_main


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    return run_training(cfg)


if __name__ == "__main__":
    run_main(main)
