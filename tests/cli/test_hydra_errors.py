"""Errors Hydra finds while composing (unknown group option, unknown key, wrong type) are one line, exit 2.

The matrix runs in-process through the same check every entry point makes before Hydra starts; one
subprocess per entry point shows the whole command behaves that way.
"""

from __future__ import annotations

import pytest

from openpretrain.cli import check_composition
from tests.conftest import run_module

CASES = [  # (config, overrides, the one line after "error: ")
    ("prep", ["pipeline=webb"],
     "pipeline=webb: no such option in conf/pipeline/; choose one of: code, minimal, synthetic, web, web_zh, web_zh_en (did you mean 'web'?)"),
    ("train", ["model=huge"],
     "model=huge: no such option in conf/model/; choose one of: llama_125m, llama_1b, llama_350m, llama_7b, tiny"),
    ("train", ["deepspeed=zero4"], "deepspeed=zero4: no such option in conf/deepspeed/; choose one of: zero0, "),
    ("prep", ["seq_len=abc"], "seq_len=abc: Value 'abc' of type 'str' could not be converted to Integer"),
    ("prep", ["pipline=web"], "pipline: unknown key (did you mean 'pipeline'?)"),
    ("prep", ["source=local", "source.pathz=[a]"], "source.pathz: unknown key (did you mean 'source.paths'?)"),
    ("train", ["optim.lrr=1"], "optim.lrr: unknown key (did you mean 'optim.lr'?)"),
    ("launch", ["cluster=slrum"], "cluster=slrum: no such option in conf/cluster/; choose one of: example_site, "
     "local, slurm (did you mean 'slurm'?)"),
    ("launch", ["cluster.gpus=2"], "cluster.gpus: unknown key (did you mean 'cluster.gpus_per_node'?)"),
    ("launch", ["-m", "dry_run=true,maybe"], "dry_run=maybe: Value 'maybe' is not a valid bool"),
    # The model of generate / evaluate / export comes from the checkpoint: no model group to choose from.
    ("generate", ["model=huge"], "model=huge: 'model' is not a config group or key of conf/generate.yaml; "
     "choose keys from: checkpoint, json, max_new_tokens, mode, "),
    ("evaluate", ["model=huge"], "model=huge: 'model' is not a config group or key of conf/evaluate.yaml; "
     "choose keys from: batch_size, checkpoint, data, "),
    ("export", ["~model"], "~model: 'model' is not a config group or key of conf/export.yaml; choose keys from: "),
]


def _schemas() -> None:
    from data_prep.config import register as prep
    from launch.config import register as launch
    from train.config import register as train
    from train.evaluate import register as evaluate
    from train.export import register as export
    from train.generate import register as generate

    for register in (prep, train, launch, generate, evaluate, export):
        register()


@pytest.mark.parametrize("config, argv, expected", CASES, ids=[" ".join(c[1]) for c in CASES])
def test_hydra_errors_are_one_line_with_the_choices(config: str, argv: list[str], expected: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _schemas()
    with pytest.raises(SystemExit) as info:
        check_composition(config, argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert err.startswith(f"error: {expected}"), err


def test_valid_overrides_pass_untouched(capsys: pytest.CaptureFixture[str]) -> None:
    _schemas()
    check_composition("prep", ["pipeline=web", "seq_len=256", "--cfg", "job"])
    check_composition("launch", ["-m", "cluster=local,slurm"])
    assert capsys.readouterr().err == ""


ENTRY_POINTS = [  # every python -m entry point, with an error Hydra itself raises
    ("data_prep", ["pipeline=webb"], "error: pipeline=webb: no such option in conf/pipeline/"),
    ("train", ["seq_len=abc"], "error: seq_len=abc: Value 'abc' of type 'str' could not be converted to Integer"),
    ("train.export", ["overwrit=true"], "error: overwrit: unknown key (did you mean 'overwrite'?)"),
    ("train.generate", ["max_new_tokens=many"], "error: max_new_tokens=many: Value 'many'"),
    ("train.generate", ["model=huge"], "error: model=huge: 'model' is not a config group or key of conf/generate.yaml"),
    ("train.evaluate", ["text_fil=x"], "error: text_fil: unknown key (did you mean 'text_file'?)"),
    ("launch", ["cluster=slrum"], "error: cluster=slrum: no such option in conf/cluster/"),
    ("launch", ["--", "pipline=web"], "error: train: pipline: unknown key"),
]


@pytest.mark.parametrize("module, argv, expected", ENTRY_POINTS, ids=[f"{m} {' '.join(a)}" for m, a, _ in ENTRY_POINTS])
def test_every_entry_point_prints_one_line_and_exits_2(module: str, argv: list[str], expected: str) -> None:
    proc = run_module(module, *argv, check=False, timeout=120)
    lines = [line for line in proc.stderr.splitlines() if "Warning" not in line and line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert lines and lines[-1].startswith(expected), proc.stderr
    assert "Traceback" not in proc.stderr and "HYDRA_FULL_ERROR" not in proc.stderr
    assert sum(line.startswith("error:") for line in lines) == 1


def test_a_missing_mandatory_value_names_the_key_to_add() -> None:
    proc = run_module("train", "data.path=x", check=False, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "error: 'run_dir' must be set: add run_dir=... to the command"
