"""Stages for generated text (``pipeline=synthetic``), each judging it against the REAL corpus
(``pipeline.real_data``, a prepared dataset): dedup_real (MinHash against the real documents), ppl (a
perplexity band under a reference checkpoint) and discriminator (real-vs-generated classifier).

Each computes its run-wide state once in ``prepare()`` (main process; files under ``_prep/stages/``,
summary in ``manifest.stats.<name>``) and loads it per worker in ``setup()``. (Nothing is imported here:
``data_prep.config`` imports this package's config module and must stay light.)
"""
