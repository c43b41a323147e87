"""Print speed figures measured side by side; writes outputs/benchmark/ (about 5 minutes)."""

from pathlib import Path

from experiments.benchmarks.report import main

if __name__ == "__main__":
    main(Path(__file__).resolve().parents[1])
