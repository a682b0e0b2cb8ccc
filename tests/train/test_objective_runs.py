"""Real runs with objective=mlm|fim: a 2-rank ZeRO-2 MLM run learns; the CLIs accept or refuse each objective.

The corpus is repetitive on purpose (documents of 3 out of 8 fixed sentences), so a masked word is
determined by its neighbours and a tiny model gets far beyond the unigram rate in a minute of CPU.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from openpretrain.special_tokens import OBJECTIVE_TOKENS
from tests.conftest import run_module
from tests.train.train_helpers import (
    events,
    kill_all,
    last_per_step,
    records,
    sample_positions,
    start,
    train,
    wait_for_step,
)

SENTENCES = [
    "the quick brown fox jumps over the lazy dog near the river bank.",
    "a small red hen finds grains of wheat and bakes fresh bread for all.",
    "seven silver ships sail across the cold northern sea every winter.",
    "my old green lamp glows softly while the rain taps on the window.",
    "bright yellow bees hum among the tall purple flowers in the garden.",
    "the tired farmer walks home slowly after a long day in the fields.",
    "four black cats sleep on the warm stone wall behind the bakery.",
    "a curious child builds a tall tower of wooden blocks on the floor.",
]


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("toy")
    rng = random.Random(0)
    corpus = root / "toy.jsonl"
    corpus.write_text("".join(json.dumps({"text": " ".join(rng.choice(SENTENCES) for _ in range(3))}) + "\n"
                              for _ in range(600)))
    out = root / "data"
    run_module("data_prep", f"out_dir={out}", "source=local", f"source.paths=[{corpus}]", "seq_len=64",
               "tokenizer.vocab_size=300", "samples_per_shard=64", "val_fraction=0.05", "progress=false",
               "tokenizer.objective_tokens=[fim,mlm]")
    return out


def _unigram_rate(data: Path) -> float:
    """Accuracy of always answering the most frequent ordinary token on the val split: the bar to beat."""
    from tokenizers import Tokenizer

    from train.evaluate import shard_rows

    tok = Tokenizer.from_file(str(data / "tokenizer.json"))
    special = {tok.token_to_id(t) for t in ("<|endoftext|>", *OBJECTIVE_TOKENS["fim"], *OBJECTIVE_TOKENS["mlm"])}
    rows, manifest = shard_rows(str(data), "val", 64, json.loads((data / "manifest.json").read_text())["tokenizer"]["sha256"])
    counts = Counter(t for row in rows for t in row[:-1] if t not in special)
    return counts.most_common(1)[0][1] / sum(counts.values())


@pytest.mark.slow
@pytest.mark.integration
def test_mlm_two_rank_zero2_learns_and_the_clis_treat_it_as_an_encoder(toy_data: Path, tmp_path: Path):
    run = tmp_path / "mlm"
    train(2, f"data.path={toy_data}", f"run_dir={run}", "objective=mlm", "deepspeed=zero2", "max_steps=150",
          "micro_batch_size=16", "log_every=10", "eval_every=50", "checkpoint_every=150", timeout=900)
    logged = records(run)
    val = [r for r in logged if "val_masked_accuracy" in r]
    assert [r["step"] for r in val] == [50, 100, 150]
    assert all("val_ppl" not in r and "val_bpb" not in r for r in val)  # next-token quantities only
    assert all("masked_accuracy" in r and r["masked_tokens"] > 0 for r in logged if "loss" in r)
    bar = _unigram_rate(toy_data)
    print(f"val masked accuracy {[round(r['val_masked_accuracy'], 3) for r in val]}; unigram rate {bar:.3f}")
    assert val[-1]["val_masked_accuracy"] > max(2 * bar, 0.2)
    assert val[-1]["val_masked_accuracy"] > val[0]["val_masked_accuracy"]

    evaluated = json.loads(run_module("train.evaluate", f"checkpoint={run}").stdout)
    assert evaluated["objective"] == "mlm" and evaluated["masked_accuracy"] > max(2 * bar, 0.2)
    for module, extra, expected in (
        ("train.export", [f"out={tmp_path / 'hf'}"], "objective=mlm (bidirectional attention): no standard Hugging Face"),
        ("train.generate", ["prompt=the"], "it predicts masked tokens, it does not generate text"),
        ("train.generate", ["mode=infill", "prefix=a", "suffix=b"], "needs a checkpoint trained with objective=fim"),
    ):
        proc = run_module(module, f"checkpoint={run}", *extra, check=False)
        assert proc.returncode == 2 and expected in proc.stderr, proc.stderr[-2000:]
        assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "hf").exists()
    # Continuing the MLM run_dir as a causal run is refused before DeepSpeed loads anything.
    switched = run_module("train", f"data.path={toy_data}", f"run_dir={run}", "objective=clm", "max_steps=160",
                          check=False)
    assert switched.returncode == 2, switched.stderr[-2000:]
    assert "causal=False (this config: True)" in switched.stderr and "objective=mlm" in switched.stderr


@pytest.mark.slow
@pytest.mark.integration
def test_fim_run_infills_from_the_cli_and_a_tokenizer_without_sentinels_is_refused(
    toy_data: Path, prepared_dir: Path, tmp_path: Path
):
    refused = run_module("train", f"data.path={prepared_dir}", f"run_dir={tmp_path / 'no'}", "objective=fim",
                         "max_steps=2", check=False)
    assert refused.returncode == 2
    assert "objective=fim needs the special tokens <|fim_prefix|>" in refused.stderr
    assert "tokenizer.objective_tokens=[fim]" in refused.stderr
    run = tmp_path / "fim"
    train(1, f"data.path={toy_data}", f"run_dir={run}", "objective=fim", "max_steps=4", "checkpoint_every=4")
    assert any("val_bpb" in r for r in records(run))  # FIM keeps the next-token validation on plain text
    out = run_module("train.generate", f"checkpoint={run}", "mode=infill", "prefix=the quick brown",
                     "suffix=near the river bank.", "max_new_tokens=8", "temperature=0", "json=true")
    (sample,) = json.loads(out.stdout)["samples"]
    assert sample["stop"] in ("end", "eos", "length") and len(sample["tokens"]) <= 8
    assert out.stdout == run_module("train.generate", f"checkpoint={run}", "mode=infill", "prefix=the quick brown",
                                    "suffix=near the river bank.", "max_new_tokens=8", "temperature=0",
                                    "json=true").stdout


@pytest.mark.slow
@pytest.mark.integration
def test_mlm_resumes_exactly_after_sigkill(toy_data: Path, tmp_path: Path):
    """Same losses, masked accuracies and samples as an uninterrupted run: the masking is a function of
    (seed, sample id), and its choice of positions is all the objective state there is."""
    def command(run: Path) -> list[str]:
        return [f"data.path={toy_data}", f"run_dir={run}", "objective=mlm", "deepspeed=zero2", "max_steps=12",
                "log_every=1", "checkpoint_every=4", "eval_every=1000", "data.log_sample_ids=true"]

    reference = tmp_path / "reference"
    train(2, *command(reference))
    run = tmp_path / "run"
    proc = start(2, *command(run), log_path=tmp_path / "killed.log")
    wait_for_step(proc, run, random.randint(6, 9), after_line=0, log_path=tmp_path / "killed.log")
    kill_all(proc)
    train(2, *command(run))
    assert [e["checkpoint"].rsplit("/", 1)[-1] for e in events(run, "resume")] in (["step_4"], ["step_8"])
    for key in ("loss", "masked_accuracy"):
        expected, got = last_per_step(reference, key), last_per_step(run, key)
        assert sorted(got) == list(range(1, 13))
        for step in expected:
            assert got[step] == pytest.approx(expected[step], rel=1e-6), f"{key} at step {step}"
    assert sample_positions(run) == sample_positions(reference)
