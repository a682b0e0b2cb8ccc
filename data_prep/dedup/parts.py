"""Documents kept by the filter phase, stored between the phases of a run with whole-run dedup.

One Parquet file per unit of work (``part-NNNNNN.parquet``), next to the unit's dedup signatures; the pack
phase reads them back in order. Written atomically, so a part either exists complete or not at all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from data_prep.document import Document

PART_PREFIX = "part-"
PART_SUFFIX = ".parquet"
SCHEMA = pa.schema([
    ("id", pa.string()), ("text", pa.string()), ("source", pa.string()), ("license", pa.string()),
    ("url", pa.string()), ("synthetic", pa.bool_()), ("meta", pa.string()),
])
READ_BATCH_ROWS = 1024


def part_stem(folder: str, index: int) -> str:
    """Path without suffix of unit ``index``'s files (the dedup signature file shares the stem)."""
    return os.path.join(folder, f"{PART_PREFIX}{index:06d}")


def write_part(path: str, docs: list[Document]) -> None:
    columns = {
        "id": [d.id for d in docs], "text": [d.text for d in docs], "source": [d.source for d in docs],
        "license": [d.license for d in docs], "url": [d.url for d in docs],
        "synthetic": [d.synthetic for d in docs],
        "meta": [json.dumps(d.meta, sort_keys=True) if d.meta else None for d in docs],
    }
    tmp = f"{path}.tmp{os.getpid()}"
    pq.write_table(pa.table(columns, schema=SCHEMA), tmp, compression="zstd")
    os.replace(tmp, path)


def read_part(path: str) -> Iterator[Document]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=READ_BATCH_ROWS):
        for row in batch.to_pylist():
            meta = json.loads(row["meta"]) if row["meta"] else {}
            yield Document(id=row["id"], text=row["text"], source=row["source"], license=row["license"],
                           url=row["url"], synthetic=row["synthetic"], meta=meta)


def part_paths(folder: str) -> list[str]:
    if not os.path.isdir(folder):
        return []
    names = sorted(n for n in os.listdir(folder) if n.startswith(PART_PREFIX) and n.endswith(PART_SUFFIX))
    return [os.path.join(folder, n) for n in names]
