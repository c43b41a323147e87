"""Hydra launchers: submitit's (`hydra/launcher=submitit_slurm`, `submitit_local`) with a console
line per job as it ends, and sbatch's refusal said in one line (`launchers`)."""
