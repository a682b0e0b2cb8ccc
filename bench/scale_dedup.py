"""Issue 16, part 3b: the scaled-out dedup on random signatures (no text) of 1e6 .. 5e7 documents.

For each size: bench/dedup_corpus.py writes the signature files of ``TASKS`` tasks (planted near and exact
pairs), then the real steps run here, each in fresh processes so that peak RSS is per step:
sort (one process per task), bucket (one per bucket), ``workers`` at a time, then union (one). Reports
time and peak RSS per step, and whether the removed ids equal the planted ones.

    python bench/scale_dedup.py --sizes 1e6,1e7 [--workdir /tmp/x] [--workers 2]
    python bench/scale_dedup.py --one-step sort --task 3 ...     (internal: one step, one JSON line)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the repo's packages, as in the other bench scripts' usage
    sys.path.insert(0, str(REPO))

from bench.dedup_corpus import planted_removals, write_task  # noqa: E402
from data_prep.dedup import DedupDirs, load_removed  # noqa: E402
from data_prep.dedup.buckets import run_bucket  # noqa: E402
from data_prep.dedup.layout import plain_config, read_json, write_json  # noqa: E402
from data_prep.dedup.sort_runs import sort_task  # noqa: E402
from data_prep.dedup.union import run_union  # noqa: E402
from data_prep.stages.filters.config import DedupConfig  # noqa: E402

TASKS = 8
BUCKETS = 8
OVERRIDES = ["pipeline.dedup.exact=true", "pipeline.dedup.near=true", f"pipeline.dedup.buckets={BUCKETS}"]


def _config(memory_mb: int | None):
    from data_prep.api import compose_prep

    extra = [f"pipeline.dedup.memory_mb={memory_mb}"] if memory_mb else []
    return plain_config(compose_prep(["out_dir=unused", *OVERRIDES, *extra])[0].pipeline.dedup)


def _one_step(args: argparse.Namespace) -> dict:
    """One step in this (fresh) process; its peak RSS is this process's."""
    cfg = DedupConfig(**json.loads(args.config))
    work = Path(args.workdir)
    dirs = DedupDirs(str(work / "dedup"), TASKS)
    start = time.perf_counter()
    if args.one_step == "generate":
        files = write_task(str(work / "signatures"), args.task, TASKS, args.size, cfg)
        write_json(str(work / "signatures" / f"files-{args.task:05d}.json"), {"files": files})
    elif args.one_step == "sort":
        files = read_json(str(work / "signatures" / f"files-{args.task:05d}.json"))["files"]
        sort_task(dirs, args.task, files, cfg)
    elif args.one_step == "bucket":
        run_bucket(dirs, args.task, cfg)
    else:
        run_union(dirs, cfg)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _run_processes(step: str, jobs: list[int], size: int, workdir: str, workers: int,
                   memory_mb: int | None) -> dict:
    """``jobs`` (task or bucket ids) of one step, ``workers`` processes at a time: wall time, max peak RSS."""
    config = json.dumps(dataclasses.asdict(_config(memory_mb)))  # composed once, not in every process
    base = [sys.executable, str(Path(__file__).resolve()), "--one-step", step, "--size", str(size),
            "--workdir", workdir, "--config", config]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    start, peaks, pending, running = time.perf_counter(), [], list(jobs), []
    while pending or running:
        while pending and len(running) < workers:
            running.append(subprocess.Popen([*base, "--task", str(pending.pop(0))], env=env,
                                            stdout=subprocess.PIPE, text=True))
        proc = running.pop(0)
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"error: bench step {step} failed (exit {proc.returncode})")
        peaks.append(json.loads(out.strip().splitlines()[-1])["peak_rss_mb"])
    return {"seconds": time.perf_counter() - start, "peak_rss_mb": max(peaks), "processes": len(jobs)}


def _found(dirs: DedupDirs) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"near": set(), "exact": set()}
    for task_id in range(TASKS):
        for doc_id, reason in load_removed(dirs.removed(task_id)).items():
            found[reason].add(doc_id)
    return found


def _disk_gb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e9


def _one_size(size: int, workdir: str, workers: int, memory_mb: int | None) -> list[dict]:
    work = Path(workdir) / f"dedup-{size}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        rows = [{"step": "generate", **_run_processes("generate", list(range(TASKS)), size, str(work), workers,
                                                     memory_mb)}]
        signatures_gb = _disk_gb(work / "signatures")
        rows.append({"step": "sort", **_run_processes("sort", list(range(TASKS)), size, str(work), workers, memory_mb)})
        runs_gb = _disk_gb(work / "dedup" / "runs")
        rows.append({"step": "bucket", **_run_processes("bucket", list(range(BUCKETS)), size, str(work), workers,
                                                       memory_mb)})
        rows.append({"step": "union", **_run_processes("union", [0], size, str(work), 1, memory_mb)})
        found, planted = _found(DedupDirs(str(work / "dedup"), TASKS)), planted_removals(size)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    steps = rows[1:]
    rows.append({"step": "total", "seconds": sum(r["seconds"] for r in steps),
                 "peak_rss_mb": max(r["peak_rss_mb"] for r in steps), "processes": sum(r["processes"] for r in steps)})
    check = {"planted_pairs": sum(map(len, planted.values())), "found_pairs": sum(map(len, found.values())),
             "equal": found == planted, "signatures_gb": round(signatures_gb, 2), "runs_gb": round(runs_gb, 2)}
    return [{"part": "dedup", "size": size, **row, **check} for row in rows]


def run_dedup(sizes: list[int], workdir: str, workers: int = 2, memory_mb: int | None = None) -> list[dict]:
    """One row per step per size (+ step="total", the dedup steps without the generation), with the check."""
    return [row for size in sizes for row in _one_size(size, workdir, workers, memory_mb)]


def print_table(rows: list[dict]) -> None:
    print(f"{'size':>11} {'step':>8} {'seconds':>8} {'peak MB':>8} {'procs':>5}  planted=found")
    for r in rows:
        print(f"{r['size']:>11,} {r['step']:>8} {r['seconds']:>8.1f} {r['peak_rss_mb']:>8.0f} {r['processes']:>5}"
              f"  {r['found_pairs']}/{r['planted_pairs']} {'OK' if r['equal'] else 'DIFFERENT'}")
    totals = {r["size"]: r for r in rows if r["step"] == "total"}
    sizes = sorted(totals)
    for small, large in zip(sizes, sizes[1:]):
        a, b = totals[small], totals[large]
        print(f"x{large / small:g} documents -> x{b['seconds'] / a['seconds']:.2f} time, "
              f"x{b['peak_rss_mb'] / a['peak_rss_mb']:.2f} peak memory (largest step process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1e6,1e7")
    parser.add_argument("--workdir", default="/tmp/openpretrain-scale-dedup")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-mb", type=int, default=None, help="pipeline.dedup.memory_mb (default: conf/)")
    parser.add_argument("--one-step", choices=["generate", "sort", "bucket", "union"])
    parser.add_argument("--task", type=int, default=0)
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--config", help="(internal) pipeline.dedup as JSON")
    args = parser.parse_args()
    if args.one_step:
        print(json.dumps(_one_step(args)))
        return
    rows = run_dedup([int(float(s)) for s in args.sizes.split(",")], args.workdir, args.workers, args.memory_mb)
    print_table(rows)
    if not all(r["equal"] for r in rows):
        raise SystemExit("error: the removed documents differ from the planted duplicates")


if __name__ == "__main__":
    main()
