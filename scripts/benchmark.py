"""Print speed figures measured side by side; writes outputs/benchmark/."""

from experiments.benchmark import main

if __name__ == "__main__":
    main()
