"""The `data.*` checks that run before torch is imported (`experiments.run.config.check_config`)."""

from __future__ import annotations

from experiments.data.folds import check_folds
from experiments.data.image_folder import check_image_data, is_image_data, refuse_image_folder
from experiments.data.reader import table_for_config
from experiments.errors import ConfigError

TARGET_SCALINGS = ("none", "standard")


def check_target_scaling(value: object) -> None:
    if value not in TARGET_SCALINGS:
        raise ConfigError(
            f"data.target_scaling={value!r} is unknown: choose one of {', '.join(TARGET_SCALINGS)}"
        )


def check_data(data) -> str | None:
    """Check `cfg.data`, reading its table or its folder of images if it has one (so a bad file
    fails in about a second); return the task the data asks for (None if the config does not
    say)."""
    batch_size = data.get("batch_size")
    if batch_size is not None and (
        not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1
    ):
        raise ConfigError(
            f"data.batch_size={batch_size!r} is not allowed: use a positive integer, "
            "or null for the full batch"
        )
    check_folds(data.get("folds"), data.get("fold"))
    if "target_scaling" in data:
        check_target_scaling(data.target_scaling)
    if is_image_data(data):
        return check_image_data(data)
    refuse_image_folder(data)
    table = table_for_config(data)
    return table.task if table is not None else data.get("task")
