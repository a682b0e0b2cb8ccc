"""``python_stdlib``: the embedded offline corpus — the running Python's own documentation and code.

Three deterministic streams, interleaved round-robin so that even a small ``max_docs`` sees all three
kinds of text: ``pydoc_data`` help topics, module docstrings (read with ``ast``, never by importing:
some stdlib modules have side effects on import) and the source files themselves.
"""

from __future__ import annotations

import ast
import inspect
import io
import itertools
import os
import sysconfig
import tokenize
from collections.abc import Iterator

from data_prep.sources.base import RawRecord

# Not documentation-quality text, or not part of the standard library proper.
_EXCLUDED_DIRS = frozenset({"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"})


def stdlib_root() -> str:
    return sysconfig.get_paths()["stdlib"]


def stdlib_source_files(root: str | None = None) -> list[str]:
    """Relative paths of the stdlib's .py files, sorted so every run sees the same order."""
    root = root or stdlib_root()
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _EXCLUDED_DIRS and not d.startswith(".")]
        for name in filenames:
            if name.endswith(".py"):
                found.append(os.path.relpath(os.path.join(dirpath, name), root))
    return sorted(found)


def _read_text(path: str) -> str | bytes:
    """The file's text; its raw bytes when it is not UTF-8 (cleaning counts those as rejections)."""
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _topics() -> Iterator[RawRecord]:
    from pydoc_data.topics import topics

    for key in sorted(topics):
        yield RawRecord(id=f"topic/{key}", text=topics[key])


def _module_name(rel_path: str) -> str:
    parts = rel_path[: -len(".py")].split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


_SKIPPED_TOKENS = frozenset({tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENCODING})


def module_docstring(text: str) -> str | None:
    """The module docstring, read from the first tokens only (parsing whole files costs ~3 ms each)."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in _SKIPPED_TOKENS:
                continue
            if token.type != tokenize.STRING or token.string.lstrip("rRuU")[:1] not in ("'", '"'):
                return None  # code first, or an f/b-string: no docstring
            value = ast.literal_eval(token.string)
            return inspect.cleandoc(value) if isinstance(value, str) else None
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None  # e.g. lib2to3 test fixtures written in Python 2
    return None


def _docstrings(root: str, files: list[str]) -> Iterator[RawRecord]:
    for rel in files:
        text = _read_text(os.path.join(root, rel))
        if isinstance(text, bytes):
            continue  # the source stream reports undecodable files once
        yield RawRecord(id=f"docstring/{_module_name(rel)}", text=module_docstring(text) or "")


def _sources(root: str, files: list[str]) -> Iterator[RawRecord]:
    for rel in files:
        yield RawRecord(id=f"file/{rel.replace(os.sep, '/')}", text=_read_text(os.path.join(root, rel)))


def iter_stdlib() -> Iterator[RawRecord]:
    root = stdlib_root()
    files = stdlib_source_files(root)
    streams = [_topics(), _docstrings(root, files), _sources(root, files)]
    for group in itertools.zip_longest(*streams):
        yield from (record for record in group if record is not None)
