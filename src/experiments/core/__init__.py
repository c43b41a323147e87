"""The lesson core: scratch layers, losses, optimizers, network building.

torch only: no Lightning, no Hydra, no member dimension.
"""
