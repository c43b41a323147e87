"""`train(cfg)`: instantiate everything from the config, fit, validate, test, record the run."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from experiments.architecture import Architecture
from experiments.errors import ConfigError, DivergedError, ParityError, RunInterrupted
from experiments.loop import chunking, data_parallel
from experiments.output.console import announce_start
from experiments.run.config import check_config
from experiments.run.entry import startup_over, stop_if_asked
from experiments.run.results import finish_run, hparams_of

log = logging.getLogger(__name__)


def hydra_choices() -> dict[str, str]:
    """Config-group choices of this run (`experiment`, `model`, ...), when Hydra launched it."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}
    return {k: str(v) for k, v in HydraConfig.get().runtime.choices.items() if v is not None}


def predict_rows(model, datamodule, inputs: list[list[float]]) -> list[dict[str, list[float]]]:
    """The model's outputs, in the data's own units, for raw (unscaled) input rows."""
    from experiments.run.inference import predict_raw

    outputs = predict_raw(model, datamodule.scaler, datamodule.task, inputs)
    return [
        {"input": list(map(float, row)), "output": [round(float(v), 6) for v in out]}
        for row, out in zip(inputs, outputs, strict=True)
    ]


def cluster_plugins() -> list:
    """On SLURM, submitit owns signals and requeueing: Lightning's own auto-requeue stays off."""
    from lightning.pytorch.plugins.environments import SLURMEnvironment

    return [SLURMEnvironment(auto_requeue=False)] if SLURMEnvironment.detect() else []


def build(cfg: DictConfig, checkpoint: dict | None = None):
    """Seed everything, then the data module (set up) and the model sized to its data.

    With `train=false` the model and the fitted scaler come from the checkpoint instead.
    """
    import lightning as L

    from experiments.run.checkpoints import check_same_architecture, model_from_checkpoint

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    if checkpoint is not None and not cfg.train:
        datamodule.load_preprocessing_state(checkpoint["experiments"]["data"])
        return datamodule, model_from_checkpoint(checkpoint)
    model = build_model(cfg, datamodule)
    if checkpoint is not None:
        check_same_architecture(checkpoint, model, cfg.ckpt_path)
    return datamodule, model


def build_model(cfg: DictConfig, datamodule):
    """The configured model sized to the data module's data; its initial weights are drawn
    from the global RNG, as seeded by the caller."""
    from experiments.tasks import model_defaults

    # compare=true: both models, from the same model.* keys, in lockstep (models.lockstep)
    lockstep = {"_target_": "experiments.models.lockstep.LockstepModule"}
    sizes = {"n_inputs": datamodule.n_features, "n_outputs": datamodule.n_outputs}
    image_shape = list(datamodule.image_shape)  # (C, H, W) for a convnet: architecture.py
    if (arch := Architecture.from_config(cfg.model, **sizes, image_shape=image_shape)).channels:
        arch.feature_shapes()  # a one-line ConfigError where the blocks do not fit the image
    return instantiate(
        cfg.model,
        **sizes,
        image_shape=image_shape,
        task=datamodule.task.state_dict(),
        **model_defaults(cfg.model, datamodule.task.name),  # the model keys left at `auto`
        **({**lockstep, "tolerance": cfg.compare_tolerance} if cfg.get("compare") else {}),
    )


def make_trainer(cfg: DictConfig, output_dir: Path, extra_callbacks: list, chunk: int = 1):
    """The configured Trainer, logger and callbacks, plus what every run needs whatever the config:
    atomic checkpoint writes, SLURM-safe signals, `chunk` updates per batch (`chunking`) and
    `extra_callbacks`."""
    from experiments.run.checkpoints import AtomicCheckpointIO

    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values()]
    return instantiate(
        cfg.trainer,
        logger=logger,
        callbacks=[*callbacks, chunking.make_callback(chunk), *extra_callbacks],
        default_root_dir=output_dir,
        plugins=[AtomicCheckpointIO(), *cluster_plugins()],
        use_distributed_sampler=False,  # data-parallel: data_parallel.shard splits each batch
        **chunking.trainer_intervals(cfg, chunk),
    )


def train(cfg: DictConfig) -> dict[str, Any]:
    """Run one experiment and return what metrics.json holds.

    The inputs are checked first (config, checkpoint, data, model): a bad one raises before
    anything that looks like a result is written. From then on metrics.json is written whatever
    happens (completed, diverged, interrupted, failed), and an error is re-raised after it.
    """
    check_config(cfg)
    announce_start(cfg, hydra_choices())  # a single run: its config and folder, once it is valid
    # Heavy imports (torch, Lightning) only after the checks: a wrong override fails in a second.
    from experiments.run.callbacks import GracefulInterrupt
    from experiments.run.checkpoints import read_checkpoint

    stop_if_asked()  # a signal that came during those imports
    checkpoint = read_checkpoint(cfg.ckpt_path) if cfg.get("ckpt_path") else None
    if checkpoint is None and not cfg.train:
        raise ConfigError("train=false evaluates a checkpoint: add ckpt_path=PATH")
    started = time.perf_counter()
    datamodule, model = build(cfg, checkpoint)
    data_parallel.check(cfg, train_rows=len(datamodule.train_xy[0]))
    done = checkpoint["global_step"] if checkpoint is not None and cfg.train else 0
    output_dir = Path(cfg.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    interrupt = GracefulInterrupt()
    trainer = make_trainer(cfg, output_dir, [interrupt], chunking.chunk_size(cfg, done))

    startup_over()  # from here a signal is GracefulInterrupt's (training) or ends the run as usual
    status, error, metrics, extra, weights = "failed", None, {}, {}, None
    diverged_at = None  # the step whose loss was not finite; later updates of its chunk don't count
    try:
        if cfg.train:
            trainer.fit(
                model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True
            )
            metrics.update(_floats(trainer.callback_metrics))
            if interrupt.received:
                raise RunInterrupted(
                    f"{interrupt.received} at step {trainer.global_step}: continue with "
                    f"ckpt_path={interrupt.checkpoint}",
                    signal=interrupt.received,
                )
            # The final weights, judged on validation: what a sweep selects by.
            trainer.validate(model, datamodule=datamodule, verbose=False)
            metrics.update(_floats(trainer.callback_metrics))
        trainer.test(model, datamodule=datamodule, verbose=False)
        metrics.update(_floats(trainer.callback_metrics), **model.tables)
        weights = model.net.state_dict()
        if cfg.get("predict_inputs"):
            rows = OmegaConf.to_container(cfg.predict_inputs)
            extra["predictions"] = predict_rows(model, datamodule, rows)
            for row in extra["predictions"]:
                log.info("prediction for %s: %s", row["input"], row["output"])
        status = "completed"
    except (DivergedError, RunInterrupted) as err:
        status = "diverged" if isinstance(err, DivergedError) else "interrupted"
        diverged_at = err.step if isinstance(err, DivergedError) else None
        error = str(err)
        raise
    except Exception as err:
        error = f"{type(err).__name__}: {err}"
        diverged_at = err.step if isinstance(err, ParityError) else None  # compare=true
        raise
    finally:
        steps = trainer.global_step if cfg.train else checkpoint["global_step"]
        steps = diverged_at if diverged_at is not None else steps
        seconds = time.perf_counter() - started
        record = dict(status=status, error=error, steps=steps, seconds=seconds, metrics=metrics)
        record["resumed_from_step"] = done if checkpoint is not None and cfg.train else None
        hparams = hparams_of(cfg, hydra_choices())
        record = {**record, **extra}
        if trainer.is_global_zero:  # data-parallel: one set of files, from rank 0
            record = finish_run(output_dir, record, weights, trainer.logger, hparams)
        log.info("%s after %d steps: %s", status, steps, _summary(metrics))
    return record


def _floats(metrics: dict) -> dict[str, float]:
    # "step" is the x-axis the module logs for TensorBoard (see LessonModule.log_at_step).
    return {name: float(value) for name, value in metrics.items() if name != "step"}


def _summary(metrics: dict[str, Any]) -> str:
    numbers = sorted((k, v) for k, v in metrics.items() if isinstance(v, float))
    from experiments.output.console import number  # confusion counts as integers: test/tn 27

    return ", ".join(f"{k} {number(v)}" for k, v in numbers) or "no metrics"
