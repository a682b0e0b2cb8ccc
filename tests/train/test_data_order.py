"""The order functions alone: permutations per epoch, block locality, O(1) seeks, mixture shares."""

from __future__ import annotations

import time

import numpy as np

from train.data.order import EpochOrder, Mixture

SIZES = [5, 0, 7, 3, 9, 4, 6]


def epoch_of(order: EpochOrder, epoch: int) -> list[tuple[int, int]]:
    n = order.samples_per_epoch
    return [order.locate(epoch * n + p) for p in range(n)]


def test_each_epoch_visits_every_sample_once_in_a_new_order():
    order = EpochOrder(SIZES, seed=3, identity="a", shuffle=True, block_shards=2)
    everything = sorted((s, i) for s, n in enumerate(SIZES) for i in range(n))
    epochs = [epoch_of(order, e) for e in range(3)]
    for visited in epochs:
        assert sorted(visited) == everything
    assert epochs[0] != epochs[1] != epochs[2]


def test_order_depends_on_seed_and_dataset_name_only():
    def first(seed: int, name: str) -> list[tuple[int, int]]:
        return epoch_of(EpochOrder(SIZES, seed=seed, identity=name, shuffle=True, block_shards=3), 0)

    assert first(1, "a") == first(1, "a")
    assert first(1, "a") != first(2, "a")
    assert first(1, "a") != first(1, "b")


def test_blocks_keep_reads_within_a_few_shards():
    sizes = [10] * 12
    order = EpochOrder(sizes, seed=0, identity="a", shuffle=True, block_shards=3)
    visited = epoch_of(order, 0)
    for block in range(4):
        assert len({shard for shard, _ in visited[block * 30:(block + 1) * 30]}) == 3


def test_without_shuffle_the_order_is_the_shard_order():
    order = EpochOrder(SIZES, seed=0, identity="a", shuffle=False, block_shards=4)
    assert epoch_of(order, 1) == [(s, i) for s, n in enumerate(SIZES) for i in range(n)]


def test_locating_a_deep_position_costs_the_same_as_the_first():
    order = EpochOrder([10_000] * 5_000, seed=0, identity="a", shuffle=True, block_shards=8)  # 50M samples
    start = time.perf_counter()
    shard, index = order.locate(7 * order.samples_per_epoch + 12_345_678)
    assert time.perf_counter() - start < 0.5
    assert 0 <= shard < 5_000 and 0 <= index < 10_000


def test_mixture_shares_are_exact_within_one_sample_for_every_prefix():
    weights = [0.5, 0.3, 0.2]
    draws, counts = Mixture(weights).draw([0, 0, 0], 1000)
    running = np.zeros(3)
    for n, (d, position) in enumerate(draws, start=1):
        assert position == running[d]
        running[d] += 1
        assert np.all(np.abs(running - np.asarray(weights) * n) <= 1)
    assert counts == [500, 300, 200]


def test_mixture_continues_identically_from_any_state():
    mixture = Mixture([3, 1])
    draws, _ = mixture.draw([0, 0], 40)
    _, middle = mixture.draw([0, 0], 17)
    continued, _ = mixture.draw(middle, 23)
    assert continued == draws[17:]
