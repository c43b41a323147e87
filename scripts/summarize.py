"""Write a sweep's summary again, e.g. after it was interrupted:
python scripts/summarize.py outputs/multiruns/<timestamp> [--metric val/acc --mode max]"""

import argparse
import logging
import sys
from pathlib import Path

from experiments.sweeps import report

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument(
        "--metric", default="val/loss", help="validation metric to pick the best by"
    )
    parser.add_argument("--mode", choices=["min", "max"], default="min")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        sys.exit(report(args.sweep_dir, args.metric, args.mode))
    except FileNotFoundError as err:
        sys.exit(f"error: {err}: give the folder of one sweep, outputs/multiruns/<timestamp>")
