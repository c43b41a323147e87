"""Override lists that switch a run's extras off, from the fewest kept to the most."""

# Metrics only: no checkpoints, no progress bar, no TensorBoard.
QUIET = ["callbacks=none", "~logger", "trainer.enable_progress_bar=false"]
# TensorBoard and checkpoints on; pictures, histograms and the progress bar off.
LOGGED = [
    "~callbacks.figures",
    "~callbacks.histograms",
    "~callbacks.progress_bar",
    "trainer.enable_progress_bar=false",
]
# Checkpoints on, the rest off: quick in-process runs that can resume.
CHECKPOINTS_ONLY = ["~logger", *LOGGED]
