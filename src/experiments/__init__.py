"""Neural networks from scratch beside autograd, as Lightning + Hydra experiments.

Importing the package registers the config resolvers; it does not import Lightning.
"""

from experiments.run.config import register_resolvers

register_resolvers()
