"""`hydra/sweeper=vectorized`: an lr x iterations x seed grid as one batched run per outer job."""
