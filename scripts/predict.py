"""Predict raw inputs with a trained checkpoint. Configs: conf/predict.yaml; usage: README.md."""

import hydra
from omegaconf import DictConfig

from experiments.cli import run_prediction
from experiments.run.entry import STOPPED_PREDICTING, run_main


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    run_prediction(cfg)


if __name__ == "__main__":
    run_main(main, STOPPED_PREDICTING)
