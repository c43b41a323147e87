"""experiment=table beside scikit-learn on its bundled tables written as CSV (a few minutes)."""

from pathlib import Path

from experiments.benchmarks.tables import main

if __name__ == "__main__":
    main(Path(__file__).resolve().parents[1])
