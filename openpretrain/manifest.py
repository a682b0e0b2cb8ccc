"""Contract 2: the on-disk layout data_prep writes and train reads.

``OUT/manifest.json`` describes everything train needs: the tokenizer, the sequence length, the token
dtype and every shard with its size and checksum. Each WebDataset sample holds one packed sequence of
``seq_len + 1`` token ids (``tokens.npy``) and a JSON sidecar (``meta.json``) with the document
boundaries inside it and the ids/sources of the documents it came from.

Format 2 (this one) keeps manifest.json O(shards): nothing per sample is in it. Each shard's sample
offsets live in a sidecar index next to its tar (``train/shard-000007.idx``, see
``openpretrain.shard_index``), recorded per shard as ``index`` (path), ``index_bytes`` and
``index_sha256``. Format 1 manifests, which held every sample's offset inline (``offsets``), still load:
their shards carry ``offsets`` and no ``index``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from openpretrain.errors import UserError

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)  # 1: per-sample offsets inline in manifest.json
MANIFEST_NAME = "manifest.json"
TOKENIZER_NAME = "tokenizer.json"
TOKENS_EXT = "tokens.npy"
META_EXT = "meta.json"
SPLITS = ("train", "val")


def sample_key(shard_index: int, sample_index: int) -> str:
    """Stable WebDataset key of a sample: the pair (shard, index) that identifies it forever."""
    return f"{shard_index:06d}_{sample_index:06d}"


def shard_name(split: str, shard_index: int) -> str:
    return f"{split}/shard-{shard_index:06d}.tar"


def file_sha256(path: str) -> str:
    """Checksum recorded for shards and the tokenizer (streamed: shards can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def token_dtype_for(vocab_size: int) -> str:
    """Smallest unsigned dtype holding every id: halves disk and I/O for vocabularies < 65536."""
    return "uint16" if vocab_size <= 2**16 else "uint32"


@dataclass
class ShardInfo:
    path: str  # relative to the manifest's directory
    split: str
    samples: int
    tokens: int
    bytes: int
    sha256: str
    # The sidecar index (format 2): the byte offset of every sample inside the tar, so a reader seeks
    # straight to a sample (resume without replay). Path relative to the manifest's directory.
    index: str | None = None
    index_bytes: int = 0
    index_sha256: str = ""
    offsets: list[int] | None = None  # format 1 only: the same offsets inline (no end entry)

    def to_dict(self) -> dict[str, Any]:
        """The manifest entry: the index fields, or (a format-1 shard) the inline ``offsets``."""
        data = asdict(self)
        if data["offsets"] is None:
            data.pop("offsets")
        if data["index"] is None:
            for key in ("index", "index_bytes", "index_sha256"):
                data.pop(key)
        return data


@dataclass
class TokenizerInfo:
    file: str
    vocab_size: int
    eos_id: int
    bos_id: int | None
    sha256: str
    # Where it came from: "trained" (BPE on this corpus), a tokenizer.json path, or "hf:" + a Hugging Face
    # model folder / hub id (continued pretraining: training checks it against model.init_from).
    origin: str | None = None


@dataclass
class Manifest:
    format_version: int
    seq_len: int
    token_dtype: str
    tokenizer: TokenizerInfo
    shards: list[ShardInfo]
    stats: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    tool_version: str = ""
    root: str = ""  # directory the manifest was read from; not serialised

    def shards_for(self, split: str) -> list[ShardInfo]:
        return [s for s in self.shards if s.split == split]

    def shard_path(self, shard: ShardInfo) -> str:
        return os.path.join(self.root, shard.path)

    @property
    def tokenizer_path(self) -> str:
        return os.path.join(self.root, self.tokenizer.file)

    @property
    def bytes_per_token(self) -> float | None:
        """UTF-8 bytes of source text per token, for bits-per-byte; None when unknown."""
        text_bytes, tokens = self.stats.get("text_bytes"), self.stats.get("text_tokens")
        return text_bytes / tokens if text_bytes and tokens else None

    def index_path(self, shard: ShardInfo) -> str | None:
        return os.path.join(self.root, shard.index) if shard.index else None

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("root")
        data["shards"] = [s.to_dict() for s in self.shards]
        return json.dumps(data, indent=2, sort_keys=False)

    def write(self, directory: str) -> str:
        """Write atomically (temp file + rename) so a reader never sees half a manifest."""
        path = os.path.join(directory, MANIFEST_NAME)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(self.to_json())
        os.replace(tmp, path)
        return path


def load_manifest(directory: str) -> Manifest:
    """Read and check ``directory/manifest.json``; every failure is a one-line ``UserError``."""
    path = os.path.join(directory, MANIFEST_NAME)
    if not os.path.isdir(directory):
        raise UserError(f"data directory does not exist: {directory}")
    if not os.path.isfile(path):
        raise UserError(f"no {MANIFEST_NAME} in {directory} (run `python -m data_prep out_dir={directory}` first)")
    try:
        with open(path, encoding="utf-8") as fh:
            raw = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from exc
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if version not in READABLE_VERSIONS:
        raise UserError(f"{path}: format_version {version!r} is not supported (this version reads "
                        f"{list(READABLE_VERSIONS)}); re-run data_prep with this version to rewrite it")
    try:
        manifest = Manifest(
            format_version=version,
            seq_len=int(raw["seq_len"]),
            token_dtype=raw["token_dtype"],
            tokenizer=TokenizerInfo(**raw["tokenizer"]),
            shards=[ShardInfo(**s) for s in raw["shards"]],
            stats=raw.get("stats", {}),
            provenance=raw.get("provenance", {}),
            config=raw.get("config", {}),
            tool_version=raw.get("tool_version", ""),
            root=os.path.abspath(directory),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path}: malformed manifest ({exc})") from exc
    return manifest
