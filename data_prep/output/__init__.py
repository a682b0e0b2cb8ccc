"""What a run leaves in out_dir: tokenizer, token arrays packed into samples, WebDataset shards, the
manifest (Contract 2), the rejects files and the HTML report."""
