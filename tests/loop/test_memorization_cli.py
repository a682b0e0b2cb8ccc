"""`python -m train.memorization` on a real (tiny, overfit) training run: trained-on vs val control,
a canary planted 100 times is completed, unplanted ones are not, and bad input is one line."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_module
from tests.loop.loop_helpers import MODEL, prepare_real

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("memorization")
    prepare_real(root / "real", 60, "canaries.count=1", "canaries.repeats=[1,100]", "canaries.every=1")
    run_module("train", f"data.path={root / 'real'}", f"run_dir={root / 'run'}", "max_steps=150",
               "checkpoint_every=150", "eval_every=150", "eval_batches=1", "micro_batch_size=8", "logger.mode=disabled",
               "data.num_workers=0", "optim.warmup_steps=5", "optim.lr=3e-3", *MODEL)
    return root


def probe(run, *overrides: str, check: bool = True):
    return run_module("train.memorization", f"checkpoint={run / 'run'}", "num_sequences=16", "prefix_tokens=16",
                      "suffix_tokens=16", *overrides, check=check)


def test_the_probe_finds_the_canary_planted_100_times_and_reports_the_control(run):
    result = json.loads(probe(run, f"out={run / 'mem.json'}").stdout.strip().splitlines()[-1])
    assert json.loads((run / "mem.json").read_text()) == result
    assert set(result) >= {"exact_match_rate", "mean_token_match", "control_exact_match_rate",
                           "control_mean_token_match", "num_sequences"}
    assert result["num_sequences"] == 16
    # 150 steps over ~500 samples: trained-on sequences are partly reproduced, unseen val ones are not.
    assert result["exact_match_rate"] > result["control_exact_match_rate"]
    assert result["mean_token_match"] > result["control_mean_token_match"]
    canaries = result["canaries"]
    assert canaries["100"] == {"count": 1, "completed_rate": 1.0}
    assert canaries["unplanted"]["count"] == 2 and canaries["unplanted"]["completed_rate"] == 0.0


@pytest.mark.parametrize(("override", "message"), [
    ("num_sequences=0", "'num_sequences': must be >= 1, got 0"),
    ("prefix_tokens=40", "the probe needs prefix_tokens + suffix_tokens = 56"),
])
def test_bad_probe_input_is_one_line(run, override, message):
    proc = probe(run, override, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], proc.stderr


def test_a_dataset_the_run_never_trained_on_is_refused(run, tmp_path):
    other = prepare_real(tmp_path / "other", 20)
    proc = probe(run, f"data.path={other}", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "error: data.path=" in proc.stderr and ("never trained on it" in proc.stderr or "tokenizer differs" in
                                                  proc.stderr), proc.stderr
