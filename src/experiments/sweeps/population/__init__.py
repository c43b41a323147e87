"""The vectorized population: many members of one architecture trained as one batched network."""
