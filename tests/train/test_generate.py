"""train.generate: KV-cached sampling, seeds, filters, and the CLI."""

from __future__ import annotations

import json

import pytest
import torch

from openpretrain.errors import UserError
from tests.conftest import run_module
from tests.train.configs import tool_config
from tests.train.interop_helpers import stage_run, stage_runs, trained_run  # noqa: F401
from train.generate import Sampling, _filter_logits, generate_tokens, run
from train.load import load_run


@pytest.fixture(scope="module")
def loaded(stage_runs):  # noqa: F811
    return load_run(str(stage_run(stage_runs, "zero2")))


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
def test_kv_cache_matches_full_recomputation(loaded):
    """Greedy with the cache = argmax of a fresh full forward pass at every step."""
    model, prompt = loaded.model, [3, 17, 250, 9]
    cached = generate_tokens(model, prompt, 12, Sampling(), decodable_vocab=512)[0]
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(12):
            ids.append(int(model(torch.tensor([ids]))[0, -1, :512].argmax()))
    assert cached == ids[len(prompt):]


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
def test_sampling_is_deterministic_with_a_seed(loaded):
    sampling = Sampling(temperature=1.0, top_k=50, top_p=0.9)
    first = generate_tokens(loaded.model, [5, 6, 7], 16, sampling, num_samples=3, seed=11)
    again = generate_tokens(loaded.model, [5, 6, 7], 16, sampling, num_samples=3, seed=11)
    other = generate_tokens(loaded.model, [5, 6, 7], 16, sampling, num_samples=3, seed=12)
    assert first == again and first != other
    assert len(first) == 3 and len({tuple(s) for s in first}) > 1  # the samples differ from each other


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
def test_top_k_one_is_greedy(loaded):
    greedy = generate_tokens(loaded.model, [8, 9], 10, Sampling(), decodable_vocab=512)
    top1 = generate_tokens(loaded.model, [8, 9], 10, Sampling(temperature=1.5, top_k=1), seed=3, decodable_vocab=512)
    assert greedy == top1


def test_filters_keep_the_right_tokens():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = lambda s: torch.isfinite(_filter_logits(logits, s))[0].tolist()  # noqa: E731
    assert kept(Sampling(1.0, top_k=2)) == [True, True, False, False]
    assert kept(Sampling(1.0, top_p=0.5)) == [True, False, False, False]
    assert kept(Sampling(1.0, top_p=0.8)) == [True, True, False, False]  # 0.5 + 0.3 reaches 0.8
    assert kept(Sampling(1.0, top_p=0.81)) == [True, True, True, False]


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
def test_generation_stops_at_eos_and_respects_max_seq_len(loaded):
    greedy = generate_tokens(loaded.model, [1, 2, 3], 8, Sampling(), decodable_vocab=512)[0]
    stop = greedy[2]
    assert generate_tokens(loaded.model, [1, 2, 3], 8, Sampling(), eos_id=stop, decodable_vocab=512)[0] == \
        greedy[: greedy.index(stop) + 1]
    with pytest.raises(UserError, match="max_seq_len=128"):
        generate_tokens(loaded.model, [1] * 100, 29, Sampling())


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
def test_run_decodes_text(stage_runs):  # noqa: F811
    results = run(tool_config("generate", checkpoint=str(stage_run(stage_runs, "zero2")), prompt="def main", max_new_tokens=8,
                                 num_samples=2, seed=1))
    assert len(results) == 2 and all(isinstance(r["completion"], str) and r["tokens"] for r in results)


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
def test_cli(trained_run):  # noqa: F811
    proc = run_module("train.generate", f"checkpoint={trained_run}", "prompt=import os", "max_new_tokens=12",
                      "num_samples=2", "seed=7", "top_k=40", "top_p=0.95", "json=true")
    out = json.loads(proc.stdout)  # stdout holds the result only; logs go to stderr
    assert out["checkpoint"] == str(trained_run) and len(out["samples"]) == 2
    assert all(s["prompt"] == "import os" and 1 <= len(s["tokens"]) <= 12 for s in out["samples"])
