"""The loop end to end on CPU: 2 rounds (real-only round 0, then synthesize → continue training → evaluate
→ memorization → decide), provenance of every synthetic document, the cap, resume after a kill, early stop,
and a loop.dir whose run used another tokenizer."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import psutil
import pytest

from launch.loop.ledger import MEMORIZATION_KEYS, ROUND_KEYS
from openpretrain.manifest import load_manifest
from tests.conftest import REPO_ROOT
from tests.loop.loop_helpers import loop_argv, loop_env, prepare_real, run_loop
from tests.wandb_offline import offline_runs

pytestmark = pytest.mark.slow
CAP = 0.2


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("loop")
    real = prepare_real(root / "real")
    run_loop(loop_argv(root / "a", real))
    return root


def ledger(loop_dir: Path) -> dict:
    return json.loads((loop_dir / "loop.json").read_text())


def test_two_rounds_fill_the_ledger_report_and_wandb(world):
    book = ledger(world / "a")
    assert book["stopped"] is None and [r["round"] for r in book["rounds"]] == [0, 1]
    for entry in book["rounds"]:
        assert tuple(entry) == ROUND_KEYS and tuple(entry["memorization"]) == MEMORIZATION_KEYS
        assert entry["real_val_bpb"] > 0 and 0 < entry["distinct_2"] <= 1 and 0 <= entry["tail_mass"] <= 1
    zero, one = book["rounds"]
    assert zero["synthetic_share"] == 0 and zero["synthetic_kept"] == 0 and zero["discriminator_accuracy"] is None
    assert one["synthetic_kept"] > 0, one["synthetic_rejected"]
    assert 0 < one["synthetic_share"] <= CAP + 1e-9
    assert 0 <= one["discriminator_accuracy"] <= 1
    assert one["checkpoint"].endswith("run/checkpoints/step_40") and zero["checkpoint"].endswith("step_20")
    report = (world / "a" / "loop_report.html").read_text()
    assert "real_val_bpb" in report and (world / "a" / "loop_report" / "real_val_bpb.png").stat().st_size > 0
    runs = offline_runs(world / "a" / "wandb")  # each round's decide step resumes the loop's one W&B run
    assert len({run.id for run in runs}) == 1
    logged = [a for run in runs for a in run.logged_artifacts()]
    [generated] = [a for a in logged if a.type == "dataset" and not a.use_after_commit]
    assert "round_1" in generated.aliases  # round 1's synthetic dataset ...
    [generator] = [a for run in runs for a in run.used_artifacts()]  # ... from round 0's checkpoint (step_20)
    step_20 = world / "a" / "run" / "checkpoints" / "step_20"
    train_run_id = json.loads((step_20 / "client_state.json").read_text())["train"]["wandb_run_id"]
    assert (generator.type, generator.name) == ("model", f"model-{train_run_id}")  # the training run's model
    refs = [entry.ref for entry in generator.manifest.contents]
    assert refs and all(ref.startswith("file://") and f"{step_20}/" in ref for ref in refs), refs


def test_every_synthetic_document_has_provenance_and_the_mix_respects_the_cap(world):
    out = world / "a" / "round_1" / "synthetic"
    manifest = load_manifest(str(out))
    rows = {}
    for path in (out / "generated").glob("gen-*.jsonl"):
        rows.update((r["id"], r) for r in map(json.loads, path.read_text().splitlines()))
    in_shards = set()
    for shard in manifest.shards:
        with tarfile.open(manifest.shard_path(shard)) as tar:
            for member in tar:
                if member.name.endswith(".meta.json"):
                    meta = json.loads(tar.extractfile(member).read())
                    assert set(meta["sources"]) == {"synthetic"}
                    in_shards.update(meta["doc_ids"])
    assert in_shards and in_shards <= set(rows)
    round0_checkpoint = ledger(world / "a")["rounds"][0]["checkpoint"]
    for doc_id in in_shards:
        meta = rows[doc_id]["meta"]
        assert meta["synthetic"] and meta["loop_round"] == 1
        assert os.path.samefile(meta["generator"]["checkpoint"], round0_checkpoint) and meta["generator"]["weights_hash"]
    train_marker = json.loads((world / "a" / "round_1" / "train.done").read_text())
    weights = {e["name"]: e["weight"] for e in train_marker["mix"]}
    assert set(weights) == {"real", "synthetic_r1"} and weights["synthetic_r1"] <= CAP + 1e-9
    config = (world / "a" / "run" / "config.yaml").read_text()
    assert f"max_synthetic_share: {CAP}" in config  # training itself enforces the cap from the manifests


def _relative(book: dict, loop_dir: Path) -> dict:
    return json.loads(json.dumps(book).replace(str(loop_dir), "LOOP"))


def test_a_killed_driver_resumes_and_writes_the_same_ledger(world):
    loop_dir = world / "b"
    argv = loop_argv(loop_dir, world / "real")
    driver = subprocess.Popen(argv, cwd=REPO_ROOT, env=loop_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    while not (loop_dir / "round_1" / "synthesize.done").exists():  # kill it during round 1's training
        assert driver.poll() is None and time.monotonic() < deadline, "the loop ended before round 1 trained"
        time.sleep(0.5)
    time.sleep(3)
    # torchrun starts its ranks in their own sessions: kill them by pid too, or they outlive the test.
    tree = psutil.Process(driver.pid).children(recursive=True)
    os.killpg(driver.pid, signal.SIGKILL)
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    driver.wait()
    assert not (loop_dir / "round_1" / "decide.done").exists()
    run_loop(argv)
    assert _relative(ledger(loop_dir), loop_dir) == _relative(ledger(world / "a"), world / "a")


def test_early_stop_when_real_bpb_cannot_improve_enough(world):
    loop_dir = world / "stop"
    run_loop(loop_argv(loop_dir, world / "real", "loop.min_improvement=10", "loop.patience=1", rounds=3, docs=8,
                       steps=4))
    book = ledger(loop_dir)
    assert len(book["rounds"]) == 2 and book["stopped"]["round"] == 1
    assert "real_val_bpb has not improved by 10.0 for 1 round(s)" in book["stopped"]["reason"]
    assert not (loop_dir / "round_2").exists()


def test_a_loop_dir_trained_with_another_tokenizer_is_refused_in_one_line(world, tmp_path):
    other = prepare_real(tmp_path / "other", 40, "tokenizer.vocab_size=300")
    proc = run_loop(loop_argv(world / "a", other, rounds=3), check=False)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "its tokenizer" in errors[0] and "differs" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
