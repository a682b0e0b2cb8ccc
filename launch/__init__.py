"""Launchers: render and run torchrun commands and Slurm scripts. Never trains itself."""
