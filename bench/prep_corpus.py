"""A realistic, offline benchmark corpus for the data_prep filters (used by bench/prep_throughput.py).

Three kinds of documents, all built from text already on the machine:
- reference prose: the running Python's pydoc topics, module docstrings of the standard library and the
  long descriptions of installed packages (README-style markdown/rst, close to web text);
- synthetic web pages: sentences from that prose arranged as pages with navigation, cookie banners,
  bullet lists, footers, "read more..." teasers, prices, contacts, lorem ipsum, code with braces;
- spam-like pages (keyword lists, repeated lines, link farms) and exact / near duplicates of earlier docs.
Deterministic for a given seed and Python installation.
"""

from __future__ import annotations

import ast
import random
import re
import sysconfig
from importlib import metadata
from pathlib import Path

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_NAV = ["Home", "About us", "Contact", "Blog", "Shop", "Login", "Register", "Search", "Menu", "FAQ"]
_FOOTERS = [
    "Copyright © 2023 Example Media Group. All rights reserved.",
    "Privacy Policy | Terms of Use | Cookie Policy",
    "This website uses cookies to improve your experience. Accept",
    "Please enable JavaScript in your browser to view this page.",
    "Share this: Facebook Twitter LinkedIn Email",
    "Posted by admin on March 3, 2021 in Uncategorized",
    "Leave a comment",
    "Subscribe to our newsletter!",
]
_LOREM = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore."
_CONTRACTIONS = [("do not", "don't"), ("it is", "it's"), ("can not", "can't"), ("we will", "we'll"),
                 ("they are", "they're"), ("is not", "isn't"), ("you are", "you're"), ("I am", "I'm")]


def reference_docs() -> list[str]:
    docs: list[str] = []
    try:
        from pydoc_data.topics import topics
        docs.extend(text for text in topics.values() if len(text) > 200)
    except ImportError:
        pass
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.glob("*.py"))[:400]:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except (SyntaxError, ValueError):
            continue
        parts = [ast.get_docstring(node) for node in ast.walk(tree)
                 if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))]
        text = "\n\n".join(p for p in parts if p)
        if len(text) > 200:
            docs.append(text[:60_000])
    for dist in metadata.distributions():
        body = dist.metadata.get_payload() if hasattr(dist.metadata, "get_payload") else None
        body = body or dist.metadata.get("Description") or ""
        for section in re.split(r"\n(?=#{1,3} |\S[^\n]*\n[=\-~]{3,}\n)", body):
            if len(section) > 300:
                docs.append(section.strip())
    return docs


def _sentences(docs: list[str]) -> list[str]:
    out = []
    for doc in docs:
        for paragraph in doc.split("\n\n"):
            flat = " ".join(paragraph.split())
            for sentence in _SENTENCE.split(flat):
                letters = sum(ch.isalpha() for ch in sentence)
                if 40 <= len(sentence) <= 300 and letters > 0.7 * len(sentence) and sentence[-1] in ".!?":
                    out.append(sentence)
    return out


def _contract(sentence: str, rng: random.Random) -> str:
    for full, short in _CONTRACTIONS:
        if full in sentence and rng.random() < 0.5:
            sentence = sentence.replace(full, short, 1)
    return sentence


def _web_page(rng: random.Random, sentences: list[str]) -> str:
    lines: list[str] = []
    if rng.random() < 0.6:
        lines.append(" | ".join(rng.sample(_NAV, rng.randint(3, 7))))
    lines.append(rng.choice(sentences).rstrip(".!?"))  # title
    for _ in range(rng.randint(1, 8)):
        paragraph = " ".join(_contract(rng.choice(sentences), rng) for _ in range(rng.randint(1, 6)))
        lines.append(paragraph)
        if rng.random() < 0.15:
            lines.extend(f"{rng.choice('-•*')} {rng.choice(sentences)[:rng.randint(15, 80)]}"
                         for _ in range(rng.randint(2, 6)))
        if rng.random() < 0.1:
            lines.append(rng.choice(sentences)[:rng.randint(30, 90)] + "...")
    if rng.random() < 0.2:
        lines.append(f"Price: ${rng.randint(5, 999)}.{rng.randint(0, 99):02d} (incl. 20% VAT). Call +1 (555) "
                     f"{rng.randint(100, 999)}-{rng.randint(1000, 9999)} or write to sales@example.com.")
    if rng.random() < 0.05:
        lines.append(_LOREM)
    if rng.random() < 0.05:
        lines.append("function init() { document.getElementById('menu').style.display = 'none'; }")
    lines.extend(rng.sample(_FOOTERS, rng.randint(0, 4)))
    return "\n".join(lines)


def _spam_page(rng: random.Random, sentences: list[str]) -> str:
    kind = rng.randrange(4)
    words = rng.choice(sentences).split()
    if kind == 0:  # keyword list
        return "\n".join(" ".join(rng.sample(words, min(3, len(words)))) for _ in range(rng.randint(10, 60)))
    if kind == 1:  # the same lines over and over
        block = [rng.choice(sentences) for _ in range(rng.randint(1, 4))]
        return "\n".join(block * rng.randint(2, 8))
    if kind == 2:  # link farm
        return "\n".join(f"#{w.lower()} https://example.com/{w.lower()}" for w in words * 3)
    return "\n".join(f"{rng.choice(words)}..." for _ in range(rng.randint(20, 80)))


def _near_duplicate(rng: random.Random, text: str) -> str:
    words = text.split(" ")
    for _ in range(max(1, len(words) // 50)):
        words[rng.randrange(len(words))] = rng.choice(["new", "updated", "the", "2024"])
    return " ".join(words)


def build_corpus(n_docs: int = 5000, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    reference = reference_docs()
    sentences = _sentences(reference)
    docs: list[str] = list(reference[: n_docs // 4])
    while len(docs) < n_docs:
        roll = rng.random()
        if roll < 0.70:
            docs.append(_web_page(rng, sentences))
        elif roll < 0.82:
            docs.append(_spam_page(rng, sentences))
        elif roll < 0.91:
            docs.append(rng.choice(docs))
        else:
            docs.append(_near_duplicate(rng, rng.choice(docs)))
    rng.shuffle(docs)
    return docs
