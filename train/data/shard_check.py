"""Start-up check that every shard and its index are on disk with the sizes the manifest records.

A stat per file, never an open, so a missing or truncated shard stops the run at start, not hours in.
On a parallel file system every stat is a metadata-server round trip, and a 1T-token dataset has ~60k
shards (120k files): if every rank stat'ed every file, 1,024 ranks would send ~120M requests at the same
moment. So a training rank stats only its stripe (file i belongs to rank i % world_size) and the ranks
then agree on the problems with one all_gather, so that every rank stops with the same message (a rank
failing alone would leave the others waiting in the first collective). A single-process command
(evaluate, generate, ``python -m train`` without torchrun) checks every file itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from openpretrain.errors import UserError

if TYPE_CHECKING:
    from train.data.datasets import Dataset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShardProblem:
    position: int  # in manifest order, so every rank (and a single process) names the same first problem
    path: str
    detail: str


@dataclass(frozen=True)
class Stripe:
    """Which of the files this process checks: every ``count``-th, starting at ``index``."""

    index: int = 0
    count: int = 1

    @classmethod
    def from_launcher(cls) -> Stripe:
        """This rank's stripe from torchrun's / srun's environment (the process group does not exist yet)."""
        return cls(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")))


ALL_FILES = Stripe()


def corrupt_shard_error(path: str, detail: str) -> UserError:
    return UserError(f"corrupt shard {path}: {detail} "
                     "(re-run data_prep, or set data.on_corrupt=skip to skip its unreadable samples)")


def _files(datasets: list[Dataset]) -> Iterator[tuple[str, int]]:
    """(path, size the manifest records) of every shard and its index, in manifest order."""
    for dataset in datasets:
        manifest = dataset.manifest
        for shard in manifest.shards:
            yield manifest.shard_path(shard), shard.bytes
            if shard.index:
                yield manifest.index_path(shard), shard.index_bytes


def find_shard_problems(datasets: list[Dataset], stripe: Stripe = ALL_FILES) -> list[ShardProblem]:
    """The problems among this stripe's files (all files with the default stripe)."""
    problems = []
    for position, (path, expected) in enumerate(_files(datasets)):
        if position % stripe.count != stripe.index:
            continue
        detail = _size_problem(path, expected)
        if detail is not None:
            problems.append(ShardProblem(position, path, detail))
    return problems


def _size_problem(path: str, expected: int) -> str | None:
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        return f"cannot open ({exc.strerror})"
    if not expected or size == expected:
        return None
    return f"file has {size} bytes, manifest says {expected}"


def report_shard_problems(problems: list[ShardProblem], skip_corrupt: bool, warn: bool = True) -> None:
    """Stop at the first problem, or with ``data.on_corrupt=skip`` warn about each (``warn``: this process
    is the one that speaks for the run)."""
    if problems and not skip_corrupt:
        raise corrupt_shard_error(problems[0].path, problems[0].detail)
    if warn:
        for problem in problems:
            log.warning("%s: %s; its unreadable samples will be skipped", problem.path, problem.detail)


def agree_on_shard_problems(mine: list[ShardProblem]) -> list[ShardProblem]:
    """Every rank's problems, on every rank (a collective: all ranks of the group must call it)."""
    import torch.distributed as dist

    gathered: list[list[ShardProblem] | None] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, mine)
    return sorted((p for rank_problems in gathered for p in rank_problems or []), key=lambda p: p.position)
