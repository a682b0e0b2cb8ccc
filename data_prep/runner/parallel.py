"""Ordered parallel map over a lazy stream, with a bounded number of units in flight.

``multiprocessing.Pool.imap`` would drain the input iterator ahead of the results; here the input is only
pulled when a slot frees up, so the reader's position never runs far ahead of what has been packed (which
keeps checkpoints small and memory bounded).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

IN_FLIGHT_PER_WORKER = 2  # one unit being processed and one queued keeps every worker busy

_worker_fn: Callable[[Any], Any] | None = None


def _init_worker(factory: Callable[..., Callable[[Any], Any]], args: tuple) -> None:
    global _worker_fn
    # Each worker is one unit of parallelism: a tokenizer thread pool per worker would oversubscribe cores.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    _worker_fn = factory(*args)


def _run(item: Any) -> Any:
    assert _worker_fn is not None, "worker not initialised"
    return _worker_fn(item)


def ordered_map(factory: Callable[..., Callable[[Any], Any]], args: tuple, items: Iterable[Any],
                num_workers: int) -> Iterator[Any]:
    """Yield ``factory(*args)(item)`` for every item, in input order.

    With one worker everything runs in this process; otherwise ``num_workers`` spawned processes each build
    their own function (a tokenizer and filter stages do not survive fork safely).
    """
    if num_workers <= 1:
        fn = factory(*args)
        for item in items:
            yield fn(item)
        return
    ctx = mp.get_context("spawn")
    with ctx.Pool(num_workers, initializer=_init_worker, initargs=(factory, args)) as pool:
        pending: deque = deque()
        iterator = iter(items)
        exhausted = False
        while True:
            while not exhausted and len(pending) < num_workers * IN_FLIGHT_PER_WORKER:
                try:
                    pending.append(pool.apply_async(_run, (next(iterator),)))
                except StopIteration:
                    exhausted = True
            if not pending:
                return
            yield pending.popleft().get()
