"""Read what a W&B run logged offline: the ``run-<id>.wandb`` transaction log, record by record.

The file is W&B's LevelDB-style log (a 7-byte header ``:W&B`` + magic 0xBEE1 + version, then 32 KiB
blocks of chunks: crc32, length, type FULL/FIRST/MIDDLE/LAST) holding ``wandb.proto`` ``Record``
messages; wandb 0.2x moved its own scanner into the Go core, so the framing is read here and every
record is parsed by wandb's protobuf classes. Checksums are verified: a torn or foreign file fails.
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2 as pb

_FILE_HEADER = struct.Struct("<4sHB")
_CHUNK_HEADER = struct.Struct("<IHB")
_BLOCK = 32 * 1024
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def _chunks(data: bytes):
    pos = _FILE_HEADER.size
    while pos + _CHUNK_HEADER.size <= len(data):
        left_in_block = _BLOCK - pos % _BLOCK
        if left_in_block < _CHUNK_HEADER.size:  # block trailer padding
            pos += left_in_block
            continue
        checksum, length, kind = _CHUNK_HEADER.unpack_from(data, pos)
        if (kind == 0 and length == 0) or pos + _CHUNK_HEADER.size + length > len(data):
            break  # the writer has not got further yet
        body = data[pos + _CHUNK_HEADER.size: pos + _CHUNK_HEADER.size + length]
        if zlib.crc32(body, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != checksum:
            raise ValueError(f"bad checksum at byte {pos}")
        yield kind, body
        pos += _CHUNK_HEADER.size + length


def read_records(wandb_file: Path) -> list[pb.Record]:
    data = wandb_file.read_bytes()
    ident, magic, _version = _FILE_HEADER.unpack_from(data)
    if (ident, magic) != (b":W&B", 0xBEE1):
        raise ValueError(f"{wandb_file} is not a W&B run log")
    records, pending = [], b""
    for kind, body in _chunks(data):
        pending = body if kind in (_FULL, _FIRST) else pending + body
        if kind in (_FULL, _LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


@dataclass
class OfflineRun:
    """One offline run directory (``.../wandb/offline-run-<time>-<id>``) as a test sees it."""

    path: Path
    records: list[pb.Record] = field(repr=False)

    @property
    def id(self) -> str:
        return next(r.run.run_id for r in self.records if r.WhichOneof("record_type") == "run")

    def of_type(self, name: str) -> list[Any]:
        return [getattr(r, name) for r in self.records if r.WhichOneof("record_type") == name]

    def config(self) -> dict[str, Any]:
        """The run config as the dashboard shows it (later updates win)."""
        config: dict[str, Any] = {}
        for record in [r.run.config for r in self.records if r.WhichOneof("record_type") == "run"] + \
                self.of_type("config"):
            for item in record.update:
                config[item.key] = json.loads(item.value_json)
        return {k: v for k, v in config.items() if k != "_wandb"}

    def history(self) -> list[dict[str, Any]]:
        """Every logged row; nested values (a table's fields) flattened to ``key/field``."""
        rows = []
        for record in self.of_type("history"):
            rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.item})
        return rows

    def logged_artifacts(self) -> list[pb.ArtifactRecord]:
        """Artifacts this run created (log_artifact, or use_artifact of an artifact it built itself)."""
        return self.of_type("artifact")

    def used_artifacts(self) -> list[pb.ArtifactRecord]:
        """Artifacts this run declared as inputs: the edges into the run in the lineage graph."""
        return [a for a in self.logged_artifacts() if a.use_after_commit] + \
            [u.partial for u in self.of_type("use_artifact") if u.HasField("partial")]

    def table(self, key: str) -> list[dict[str, Any]]:
        """Every row of the table logged under ``key`` (all logs of it, in order), as dicts."""
        rows = []
        for row in self.history():
            if row.get(f"{key}/_type") != "table-file":
                continue
            table = json.loads((self.path / "files" / row[f"{key}/path"]).read_text())
            rows += [dict(zip(table["columns"], data)) for data in table["data"]]
        return rows


def _finished_records(log: Path, timeout: float) -> list[pb.Record]:
    """The records once the run's ``exit`` record is on disk: W&B's service writes the log after
    ``run.finish()`` has returned, so a reader right after it would see a partial file."""
    deadline = time.monotonic() + timeout
    while True:
        records = read_records(log)
        if records and records[-1].WhichOneof("record_type") == "exit":
            return records
        if time.monotonic() > deadline:
            raise TimeoutError(f"{log}: no exit record after {timeout}s ({len(records)} records)")
        time.sleep(0.2)


def offline_runs(directory: Path, timeout: float = 30) -> list[OfflineRun]:
    """Every finished offline run under ``directory`` (its ``wandb/`` dir or a parent), oldest first."""
    runs = []
    for run_dir in sorted(directory.rglob("offline-run-*")):
        [log] = run_dir.glob("run-*.wandb")
        runs.append(OfflineRun(run_dir, _finished_records(log, timeout)))
    return runs
