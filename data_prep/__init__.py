"""Data preparation: open corpora -> cleaned, tokenized, packed WebDataset shards + manifest."""
