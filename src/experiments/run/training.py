"""`train(cfg, job)`: one run, straight through: check, build, fit, validate, test, record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig

from experiments.job import Job
from experiments.loop import chunking, data_parallel
from experiments.output.console import announce_start
from experiments.run import epochs
from experiments.run.config import check_config
from experiments.run.entry import startup_over, stop_if_asked


def train(
    cfg: DictConfig,
    job: Job | None = None,
    prepare: Callable[[DictConfig, Job], DictConfig] | None = None,
) -> dict[str, Any]:
    """Run one experiment and return what metrics.json holds.

    The inputs are checked first (config, checkpoint, data, model): a bad one raises before
    anything that looks like a result is written. From then on metrics.json is written whatever
    happens (completed, diverged, interrupted, failed), and an error is re-raised after it.
    """
    job = job or Job()
    check_config(cfg, job)
    if prepare is not None:  # only now that the inputs are good: the folder's earlier run goes
        cfg = prepare(cfg, job)  # (or is continued: `run.resume.prepare_run`)
    announce_start(cfg, job)  # a single run: its config and folder, once it is valid
    # Heavy imports (torch, Lightning) only after the checks: a wrong override fails in a second.
    from experiments.run.build import build_data, build_model_for, predictions
    from experiments.run.callbacks import GracefulInterrupt
    from experiments.run.checkpoint_step import ResumedValidation
    from experiments.run.checkpoints import read_checkpoint
    from experiments.run.record import RunRecord
    from experiments.run.trainer import make_trainer

    stop_if_asked()  # a signal that came during those imports
    checkpoint = read_checkpoint(cfg.ckpt_path) if cfg.get("ckpt_path") else None
    done = checkpoint["global_step"] if checkpoint is not None and cfg.train else 0
    datamodule = build_data(cfg)
    epochs.to_steps(cfg, len(datamodule.splits.x_train), datamodule.batch_size)
    chunk = chunking.chunk_size(cfg, done)  # updates per Lightning batch (`loop.chunking`)
    datamodule.chunk = chunk
    model = build_model_for(cfg, datamodule, checkpoint, chunk)
    data_parallel.check(cfg, train_rows=len(datamodule.train_xy[0]))
    run = RunRecord(cfg, job, checkpoint)
    run.extra.update(datamodule.record_notes)  # e.g. single_class_splits
    interrupt = GracefulInterrupt(job.run_overrides)
    trainer = make_trainer(cfg, run.folder, [interrupt, ResumedValidation()], chunk, job)
    startup_over()  # from here a signal is GracefulInterrupt's (training) or ends the run as usual
    with run.recording(trainer):
        if cfg.train:
            trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path, weights_only=True)
            run.add(trainer.callback_metrics)
            interrupt.raise_if_received(trainer)
            # The final weights, judged on validation: what a sweep selects by.
            trainer.validate(model, datamodule=datamodule, verbose=False)
            run.add(trainer.callback_metrics)
        trainer.test(model, datamodule=datamodule, verbose=False)
        run.add(trainer.callback_metrics, **model.tables)
        run.completed(model.net.state_dict(), **predictions(cfg, model, datamodule))
    return run.record
