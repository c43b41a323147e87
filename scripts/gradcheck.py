"""Check every scratch gradient against finite differences and autograd, on an experiment's data:
`python scripts/gradcheck.py experiment=xor [overrides]`. Thresholds: experiments.run.gradcheck."""

import sys
from pathlib import Path

from experiments.run.gradcheck import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], Path(__file__).resolve().parents[1] / "conf"))
