"""bench/scale.py end to end on tiny sizes: both parts run through the real code and the table prints.

No timing is asserted (numbers belong in the note); what is checked is that the simulation still works:
the dedup finds exactly the planted duplicates and the start-up reads one manifest and few indexes.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_scale_bench_runs_both_parts(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "bench/scale.py", "--startup-sizes", "20000,200000", "--dedup-sizes", "20000,40000",
         "--workdir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "== startup ==" in out and "== dedup / total ==" in out
    total = out.split("== dedup / total ==")[1].split("==")[0]
    assert total.count("True") == 2 and "False" not in total  # found pairs == planted pairs at both sizes
    startup = out.split("== startup ==")[1].split("==")[0].strip().splitlines()
    header, rows = startup[0].split(), [r.split() for r in startup[1:]]
    reads = [int(r[header.index("manifest_reads")]) for r in rows]
    assert reads == [1, 1]
    assert re.search(r"startup: size ×10 .* seconds ×[\d.]+, peak_rss_mb ×[\d.]+", out)
    assert list(tmp_path.iterdir()) == []  # the simulated data is removed
