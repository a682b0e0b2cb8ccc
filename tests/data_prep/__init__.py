"""data_prep tests: sources, stages, dedup, output and the runner (resume, tasks, two phases)."""
