"""Sweeps: the plan, the report and its pictures, launcher support, the vectorized population."""
