"""Small in-process inputs for the synthetic-data tests: a real corpus, its prepared dataset, fake text."""

from __future__ import annotations

import json
import random
from pathlib import Path

from data_prep.api import prepare

# Word soup from a fixed vocabulary: cheap, deterministic, and far from the "generated" junk below.
_VOCABULARY = ("the of and to in is was for on that with as by at from his her it an were are which this be or has "
         "had not but what all when we there can one their said if do will each about how up out them then she "
         "many some so these would other into more two time like could people first water been long down day "
         "did get come made may part over new sound take only little work know place year live me back give "
         "most very after thing our just name good sentence man think say great where help through much before "
         "line right too mean old any same tell boy follow came want show also around form three small set")
WORDS = _VOCABULARY.split()


def real_texts(n: int = 60, words: int = 80, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "." for _ in range(n)]


def fake_texts(n: int = 40, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    syllables = ["zq", "xv", "qk", "vvz", "jx", "kqz"]
    return [" ".join("".join(rng.choice(syllables) for _ in range(3)) for _ in range(40)) for _ in range(n)]


def write_jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return path


def prepare_local(out_dir: Path, jsonl: Path, *overrides: str) -> None:
    prepare([f"out_dir={out_dir}", "source=local", f"source.paths=[{jsonl}]", "tokenizer.vocab_size=320",
             "seq_len=32", "val_fraction=0", "samples_per_shard=1000", "progress=false", "report=false",
             *overrides])
