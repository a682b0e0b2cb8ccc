"""Document filters (quality heuristics, language id, blocklists, PII, decontamination)."""
