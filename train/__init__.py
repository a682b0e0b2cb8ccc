"""Training: a Llama-style decoder on WebDataset shards with DeepSpeed ZeRO, W&B and exact resume."""
