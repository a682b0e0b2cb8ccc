"""train.batch_generate: batched = unbatched, seeds, EOS handling, limits."""

from __future__ import annotations

import pytest
import torch

from openpretrain.errors import UserError
from tests.loop.tiny import tiny_model
from train.batch_generate import SamplingParams, generate_batch

PROMPTS = [[1, 5, 9], [2], [3, 4, 5, 6, 7, 8, 9, 10], [11, 12], [13, 14, 15, 16, 17], [1, 5, 9]]


def greedy_reference(model, prompt: list[int], max_new_tokens: int) -> list[int]:
    """Full recomputation without a cache, one sequence at a time."""
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(max_new_tokens):
            ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
    return ids[len(prompt):]


def test_batched_greedy_equals_unbatched_full_recomputation():
    model = tiny_model()
    params = SamplingParams(max_new_tokens=12)
    batched = generate_batch(model, PROMPTS, params, batch_size=4)
    assert batched == [greedy_reference(model, p, 12) for p in PROMPTS]
    assert batched[0] == batched[5]  # the same prompt gives the same greedy text in any row


@pytest.mark.parametrize("batch_size", [2, 5])
def test_sampling_is_seeded_and_independent_of_batch_size(batch_size):
    model = tiny_model()
    params = SamplingParams(temperature=1.0, top_k=20, top_p=0.95, max_new_tokens=10, seed=7)
    alone = generate_batch(model, PROMPTS, params, batch_size=1)
    assert generate_batch(model, PROMPTS, params, batch_size=batch_size) == alone
    assert alone[0] != alone[5]  # same prompt, different documents: each has its own random stream
    other_seed = generate_batch(model, PROMPTS, SamplingParams(**{**params.__dict__, "seed": 8}), batch_size=2)
    assert other_seed != alone


def test_resuming_at_a_document_index_gives_the_same_documents():
    model = tiny_model()
    params = SamplingParams(temperature=1.0, max_new_tokens=8, seed=3)
    whole = generate_batch(model, PROMPTS, params, batch_size=3)
    tail = generate_batch(model, PROMPTS[4:], params, batch_size=3, first_index=4)
    assert tail == whole[4:]


def test_rows_stop_at_eos_and_min_new_tokens_suppresses_it():
    model = tiny_model()
    free = generate_batch(model, PROMPTS, SamplingParams(max_new_tokens=12), batch_size=6)
    eos = free[2][3]  # a token row 2 produces greedily at its 4th step
    stopped = generate_batch(model, PROMPTS, SamplingParams(max_new_tokens=12), batch_size=6, eos_id=eos)
    assert stopped[2] == free[2][: free[2].index(eos) + 1]
    for row in stopped:
        assert len(row) == 12 or row[-1] == eos
        assert eos not in row[:-1]
    held = generate_batch(model, PROMPTS, SamplingParams(max_new_tokens=12, min_new_tokens=6), batch_size=6,
                          eos_id=eos)
    assert all(eos not in row[:6] for row in held) and len(held[2]) >= 7


def test_padding_ids_are_never_produced():
    model = tiny_model(vocab=64)
    out = generate_batch(model, PROMPTS, SamplingParams(temperature=2.0, max_new_tokens=16, seed=1),
                         decodable_vocab=40)
    assert all(t < 40 for row in out for t in row)


def test_bad_input_is_one_clear_error():
    model = tiny_model(max_seq_len=32)
    with pytest.raises(UserError, match="max_seq_len=32"):
        generate_batch(model, [[1] * 20], SamplingParams(max_new_tokens=13))
    with pytest.raises(UserError, match="prompt 1"):
        generate_batch(model, [[1], []], SamplingParams(max_new_tokens=4))
    with pytest.raises(UserError, match="min_new_tokens"):
        generate_batch(model, [[1]], SamplingParams(max_new_tokens=4, min_new_tokens=5))


def test_weights_hash_identifies_the_generator():
    from train.batch_generate import weights_hash

    first, same, other = tiny_model(seed=0), tiny_model(seed=0), tiny_model(seed=1)
    assert weights_hash(first) == weights_hash(same) != weights_hash(other)
    with torch.no_grad():
        same.norm.weight[0] += 1e-3
    assert weights_hash(same) != weights_hash(first)
