"""The lesson core: scratch layers (layers.py), losses (losses.py), optimizers (optimizers.py),
building a network (network.py) and the gradient check (gradcheck.py).

torch only: no Lightning, no Hydra, no member dimension (a population's versions live in
`experiments.sweeps.population`), no speed paths (the scratch run's live in `experiments.models`).
"""
