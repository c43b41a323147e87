"""The run engine: config checks, build, trainer, `train(cfg)`, checkpoints, results, resume,
signals, the run lock."""
