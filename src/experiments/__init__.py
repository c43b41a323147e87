"""Neural networks from scratch beside autograd, as Lightning + Hydra experiments.

Importing the package imports nothing else: the entry points (`experiments.cli`) and whatever
composes a config (`run.config`, the tests' conftest) register the config resolvers.
"""
