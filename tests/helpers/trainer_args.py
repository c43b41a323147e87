"""The Trainer arguments a run refuses, each with a value a user would try (test_trainer_keys.py,
and a row each in test_bad_input.py's table)."""

# Refused: a value a user would try; the run takes only Lightning's default (product keys none).
REFUSED = {
    "num_nodes": 2,
    "logger": False,
    "callbacks": "[]",
    "limit_val_batches": 0.5,
    "limit_test_batches": 0.5,
    "limit_predict_batches": 0.5,
    "overfit_batches": 0.1,
    "accumulate_grad_batches": 2,
    "gradient_clip_val": 1.0,
    "gradient_clip_algorithm": "norm",
    "use_distributed_sampler": True,
    "barebones": True,
    "plugins": "[]",
    "sync_batchnorm": True,
    "reload_dataloaders_every_n_epochs": 1,
    "default_root_dir": "/tmp",
    "model_registry": "mine",
}
