"""What a task produced besides shards: provenance (per source / licence) and document-length histograms.

Both are plain counters so that tasks merge by summing, whatever machine they ran on.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


def length_bin(chars: int) -> int:
    """Power-of-two bucket of a document length in characters (0 for empty): bucket b holds [2^(b-1), 2^b)."""
    return 0 if chars <= 0 else int(math.log2(chars)) + 1


@dataclass
class Provenance:
    docs_by_source: Counter = field(default_factory=Counter)
    tokens_by_source: Counter = field(default_factory=Counter)
    docs_by_license: Counter = field(default_factory=Counter)
    tokens_by_license: Counter = field(default_factory=Counter)
    synthetic_docs: int = 0
    synthetic_tokens: int = 0
    text_bytes: int = 0  # UTF-8 bytes of the text of every written document
    text_tokens: int = 0  # tokens of every written document, its EOS included
    lengths_in: Counter = field(default_factory=Counter)  # length_bin -> documents entering the stages
    lengths_out: Counter = field(default_factory=Counter)  # length_bin -> documents written

    def add_written(self, source: str, license: str, synthetic: bool, n_bytes: int, chars: int, tokens: int) -> None:
        self.docs_by_source[source] += 1
        self.tokens_by_source[source] += tokens
        self.docs_by_license[license] += 1
        self.tokens_by_license[license] += tokens
        if synthetic:
            self.synthetic_docs += 1
            self.synthetic_tokens += tokens
        self.text_bytes += n_bytes
        self.text_tokens += tokens
        self.lengths_out[length_bin(chars)] += 1

    def merge(self, other: Provenance) -> None:
        for name in ("docs_by_source", "tokens_by_source", "docs_by_license", "tokens_by_license",
                     "lengths_in", "lengths_out"):
            getattr(self, name).update(getattr(other, name))
        self.synthetic_docs += other.synthetic_docs
        self.synthetic_tokens += other.synthetic_tokens
        self.text_bytes += other.text_bytes
        self.text_tokens += other.text_tokens

    def to_dict(self) -> dict[str, Any]:
        docs = sum(self.docs_by_source.values())
        return {
            "docs_by_source": dict(sorted(self.docs_by_source.items())),
            "tokens_by_source": dict(sorted(self.tokens_by_source.items())),
            "docs_by_license": dict(sorted(self.docs_by_license.items())),
            "tokens_by_license": dict(sorted(self.tokens_by_license.items())),
            "synthetic_docs": self.synthetic_docs,
            "synthetic_tokens": self.synthetic_tokens,
            "synthetic_token_share": self.synthetic_tokens / self.text_tokens if self.text_tokens else 0.0,
            "synthetic_doc_share": self.synthetic_docs / docs if docs else 0.0,
            "text_bytes": self.text_bytes,
            "text_tokens": self.text_tokens,
            "length_hist_chars_log2": {
                "in": {str(k): v for k, v in sorted(self.lengths_in.items())},
                "out": {str(k): v for k, v in sorted(self.lengths_out.items())},
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Provenance:
        hist = data.get("length_hist_chars_log2", {})
        return cls(
            docs_by_source=Counter(data.get("docs_by_source", {})),
            tokens_by_source=Counter(data.get("tokens_by_source", {})),
            docs_by_license=Counter(data.get("docs_by_license", {})),
            tokens_by_license=Counter(data.get("tokens_by_license", {})),
            synthetic_docs=data.get("synthetic_docs", 0),
            synthetic_tokens=data.get("synthetic_tokens", 0),
            text_bytes=data.get("text_bytes", 0),
            text_tokens=data.get("text_tokens", 0),
            lengths_in=Counter({int(k): v for k, v in hist.get("in", {}).items()}),
            lengths_out=Counter({int(k): v for k, v in hist.get("out", {}).items()}),
        )
