"""How batches reach the modules: chunks of consecutive updates and data-parallel shards."""
