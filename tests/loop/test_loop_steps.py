"""The loop's step commands and the saved Slurm config, without running anything heavy."""

from __future__ import annotations

import dataclasses

import pytest
from hydra import compose, initialize_config_dir

from launch.config import register
from launch.loop import ledger, slurm_chain
from launch.loop import steps as S
from launch.loop.config import validate
from openpretrain.cli import CONFIG_PATH, to_object
from openpretrain.errors import UserError
from tests.loop.loop_helpers import prepare_real
from train.loop_eval_settings import LoopEvalSettings


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    return prepare_real(tmp_path_factory.mktemp("steps") / "real", 30)


def launch_cfg(tmp_path, real, *overrides: str, train: tuple[str, ...] = ("model=tiny",)):
    register()
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        cfg = to_object(compose("launch", overrides=["job=loop", f"loop.dir={tmp_path / 'loop'}",
                                                     f"loop.real_data={real}", *overrides]))
    cfg.overrides = list(train)
    return cfg


@pytest.mark.parametrize(("mode", "round_index", "run", "step"), [
    ("continue", 0, "loop/run", 10), ("continue", 2, "loop/run", 30), ("scratch", 2, "loop/round_2/run", 10)])
def test_train_target_continues_one_run_or_starts_one_per_round(tmp_path, real, mode, round_index, run, step):
    ctx = S.make_context(launch_cfg(tmp_path, real, f"loop.train={mode}", "loop.steps_per_round=10"))
    mix = [{"path": str(real), "weight": 1.0, "name": "real"}]
    target = S.train_target(ctx, round_index, mix)
    assert target.config.run_dir == str(tmp_path / run) and target.config.max_steps == step
    assert [(e.path, e.weight, e.name) for e in target.config.data.mix] == [(str(real), 1.0, "real")]
    assert target.config.data.max_synthetic_share == 0.2 and target.config.data.allow_dropped_datasets is False


def test_round_mix_needs_the_synthesize_marker_and_caps_the_share(tmp_path, real):
    ctx = S.make_context(launch_cfg(tmp_path, real, "loop.max_synthetic_share=0.1"))
    with pytest.raises(UserError, match="round 1 has no completed synthesize step"):
        S.round_mix(ctx, 1)
    ledger.mark_done(ctx.dir, 1, "synthesize", {"path": str(real), "train_tokens": 10 ** 9})
    mix = S.round_mix(ctx, 1)
    assert [e["name"] for e in mix] == ["real", "synthetic_r1"] and mix[1]["weight"] == pytest.approx(0.1)


def test_synthesize_command_is_the_data_prep_contract(tmp_path, real):
    ctx = S.make_context(launch_cfg(tmp_path, real, "loop.seed=5", "loop.docs_per_round=7",
                                    "loop.synthetic_overrides=['source.top_k=40']"))
    ledger.mark_done(ctx.dir, 0, "train", {"checkpoint": "/ck/step_10"})
    argv = S.synthesize_command(ctx, 1).argv
    assert argv[1:3] == ["-m", "data_prep"]
    for arg in ("source=synthetic", "source.checkpoint=/ck/step_10", "source.num_docs=7", "source.seed=6",
                "source.loop_round=1", "pipeline=synthetic", f"pipeline.real_data={real}",
                "pipeline.ppl.reference=/ck/step_10", f"tokenizer.path={real}/tokenizer.json", "source.top_k=40"):
        assert arg in argv


def test_the_slurm_jobs_reload_the_saved_launch_config(tmp_path, real):
    cfg = launch_cfg(tmp_path, real, "cluster=slurm", "loop.rounds=2")
    ctx = S.make_context(cfg)
    slurm_chain.save_config(cfg, ctx)
    again = slurm_chain.load_config(slurm_chain.saved_config_path(ctx))
    assert again == cfg
    assert [s.name for s in slurm_chain.round_scripts(cfg, ctx)] == ["train", "evaluate", "memorize", "decide"]
    for step in ("train", "evaluate", "memorize", "decide"):
        ledger.mark_done(ctx.dir, 0, step, {})
    assert [s.name for s in slurm_chain.round_scripts(cfg, ctx)] == ["synthesize", "train", "evaluate", "memorize",
                                                                      "decide"]


def test_evaluate_command_passes_every_loop_eval_setting_to_the_one_schema(tmp_path, real):
    from train.loop_eval import LoopEvalConfig

    cfg = launch_cfg(tmp_path, real, "loop.eval.top_k=7", "loop.eval.max_batches=3", "loop.eval.tail_quantile=0.25")
    argv = S.evaluate_command(S.make_context(cfg), 1, "/ck/step_10").argv
    assert argv[1:3] == ["-m", "train.loop_eval"]
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        evaluated: LoopEvalConfig = to_object(compose("loop_eval", overrides=argv[3:]))
    for field in dataclasses.fields(LoopEvalSettings):
        assert getattr(evaluated, field.name) == getattr(cfg.loop.eval, field.name), field.name
    assert (evaluated.top_k, evaluated.max_batches, evaluated.checkpoint) == (7, 3, "/ck/step_10")


def test_loop_eval_settings_are_validated_under_their_loop_key(tmp_path, real):
    cfg = launch_cfg(tmp_path, real, "loop.eval.tail_quantile=1.5")
    with pytest.raises(UserError, match=r"'loop.eval.tail_quantile': must be in \(0, 1\), got 1.5"):
        validate(cfg.loop)
