"""User-supplied blocklists: URL/domain list and harmful-content word list (files named in the config;
nothing is downloaded).

URL list: one entry per line, "#" starts a comment. A bare domain ("example.com") blocks the domain and
all its subdomains; an entry with a path ("example.com/ads/") blocks URLs under that prefix (scheme and
"www." ignored). Documents without a URL pass. Word list: one word or phrase per line, matched
case-insensitively on whole words; a document is rejected when hits exceed ``max_word_hits`` or the hit
share of its words exceeds ``max_word_ratio``.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from data_prep.document import Document, Stats
from data_prep.stages.base import Stage
from data_prep.stages.filters.config import BlocklistConfig
from openpretrain.errors import UserError

_WORD = re.compile(r"\w+(?:['’]\w+)*")


def read_list(path: str, key: str) -> list[str]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"pipeline.blocklist.{key}: cannot read {path}: {exc}") from exc
    entries = [line.split("#", 1)[0].strip() for line in lines]
    return [e for e in entries if e]


def _host_and_path(url: str) -> tuple[str, str]:
    parts = urlsplit(url if "//" in url else "//" + url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    return host, parts.path or "/"


class BlocklistFilter(Stage):
    name = "blocklist"

    def __init__(self, cfg: BlocklistConfig) -> None:
        self.cfg = cfg
        self.domains: set[str] = set()
        self.prefixes: list[tuple[str, str]] = []
        for entry in read_list(cfg.url_blocklist, "url_blocklist") if cfg.url_blocklist else []:
            host, path = _host_and_path(entry)
            if path in ("", "/"):
                self.domains.add(host)
            else:
                self.prefixes.append((host, path))
        words: set[str] = set()
        phrases: list[str] = []
        for entry in read_list(cfg.word_list, "word_list") if cfg.word_list else []:
            entry = " ".join(entry.lower().split())
            if " " in entry:
                phrases.append(entry)
            else:
                words.add(entry)
        self.words = frozenset(words)
        self.phrase_re = (re.compile(r"\b(?:" + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in phrases) + r")\b", re.IGNORECASE)
                          if phrases else None)

    def url_blocked(self, url: str | None) -> bool:
        if not url or not (self.domains or self.prefixes):
            return False
        host, path = _host_and_path(url)
        labels = host.split(".")
        if any(".".join(labels[i:]) in self.domains for i in range(len(labels))):
            return True
        return any((host == h or host.endswith("." + h)) and path.startswith(p) for h, p in self.prefixes)

    def word_hits(self, text: str) -> tuple[int, int]:
        """(blocklisted words and phrases found, words in the text)."""
        tokens = _WORD.findall(text.lower())
        hits = sum(token in self.words for token in tokens) if self.words else 0
        if self.phrase_re is not None:
            hits += len(self.phrase_re.findall(text))
        return hits, len(tokens)

    def process(self, doc: Document, stats: Stats) -> Document | str:
        if self.url_blocked(doc.url):
            return "url"
        if self.words or self.phrase_re is not None:
            hits, n_words = self.word_hits(doc.text)
            if hits:
                stats.count("blocklist/word_hits", hits)
            if hits > self.cfg.max_word_hits or (n_words and hits / n_words > self.cfg.max_word_ratio):
                return "words"
        return doc
