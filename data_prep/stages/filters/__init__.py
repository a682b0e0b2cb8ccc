"""Document filters: quality heuristics (Gopher, C4, FineWeb), language id, blocklists, PII scrubbing.

Each is a ``data_prep.stages.base.Stage``; ``data_prep.stages.build_stages`` picks the enabled ones in
their fixed order. Their settings (``pipeline.*``) are declared in ``config.py``.
"""
