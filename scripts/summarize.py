"""Write a sweep's report again (summary.csv, summary.md, summary.png and, when seeds are swept,
summary_by_config.csv), e.g. after it was interrupted:
python scripts/summarize.py outputs/multiruns/<timestamp> [--metric val/acc] [--mode min|max]
Every job of the sweep is listed, those that never started too (as `missing`, from the job list
the sweep wrote at its start, sweep_plan.json). Exit status 1 when a job did not complete, or
(with one line of error) for a folder that is not a sweep."""

import argparse
import logging
import sys
from pathlib import Path

from experiments.errors import ConfigError
from experiments.run.sweep_metric import check_name
from experiments.sweeps.report import report

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument(
        "--metric", default="val/loss", help="validation metric to pick the best by"
    )
    parser.add_argument(
        "--mode", choices=["auto", "min", "max"], default="auto", help="auto: by the metric"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.sweep_dir.exists():
        sys.exit(
            f"error: {args.sweep_dir} does not exist: give the folder of one sweep, "
            "outputs/multiruns/<timestamp>"
        )
    try:
        check_name(args.metric)
        sys.exit(report(args.sweep_dir, args.metric, args.mode))
    except ConfigError as err:
        sys.exit(f"error: {str(err).replace('optimized_metric=', '--metric ')}")
    except OSError as err:  # no job folders there, or one that cannot be read
        sys.exit(f"error: {err}: give the folder of one sweep, outputs/multiruns/<timestamp>")
