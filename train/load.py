"""Load a trained model and its tokenizer from a run directory, one of its checkpoints, or an HF folder.

Shared by ``train.export``, ``train.generate``, ``train.evaluate`` and the memorization probe. A checkpoint
is a DeepSpeed checkpoint of any ZeRO stage (Contract 4); it is consolidated into one fp32 state dict with
the names of ``train.model.Transformer`` (which are Hugging Face Llama's without the ``model.`` prefix).
``load_run`` also takes a Hugging Face model folder (our export, or a supported Llama / Mistral / Qwen2
model: train/hf/), with the folder's own tokenizer.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from tokenizers import Tokenizer

from openpretrain.errors import UserError
from openpretrain.hf_folder import folder_tokenizer, special_id
from openpretrain.manifest import TOKENIZER_NAME, TokenizerInfo, file_sha256, load_manifest
from train import checkpoint as ckpt
from train.model import ModelArgs, Transformer
from train.model_setup import model_args as model_args_from_config
from train.run_dir import run_tokenizer_info

log = logging.getLogger(__name__)

# Wrappers that may prefix parameter names (torch.compile, DDP-style containers).
_WRAPPER_PREFIXES = ("_orig_mod.", "module.")


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint with its client state (step, config, model args, ...)."""

    ref: ckpt.CheckpointRef
    state: dict[str, Any]
    cfg: DictConfig  # the resolved training config

    @property
    def path(self) -> str:
        return self.ref.path


def resolve_checkpoint(path: str) -> ckpt.CheckpointRef:
    """A run dir (its newest complete checkpoint), its ``checkpoints`` dir, or one ``step_N`` dir."""
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        raise UserError(f"checkpoint: directory does not exist: {path}")
    run_dir = os.path.dirname(path) if os.path.basename(path) == ckpt.CHECKPOINTS_DIR else path
    if os.path.isdir(ckpt.checkpoints_dir(run_dir)):
        ref = ckpt.latest_complete(run_dir)
        if ref is None:
            raise UserError(f"checkpoint: no complete checkpoint in {ckpt.checkpoints_dir(run_dir)} "
                            f"(a checkpoint is complete once its {ckpt.MARKER} marker is written)")
        return ref
    if not glob.glob(os.path.join(path, "*model_states.pt")):
        raise UserError(f"checkpoint: {path} is neither a run dir nor a DeepSpeed checkpoint dir")
    run_dir = os.path.dirname(os.path.dirname(path))
    for ref in ckpt.complete_checkpoints(run_dir):
        if os.path.samefile(ref.path, path):
            return ref
    raise UserError(f"checkpoint: {path} is incomplete (no {ckpt.MARKER} marker: its save was interrupted); "
                    "pass the run dir to use the newest complete checkpoint")


def open_checkpoint(path: str) -> Checkpoint:
    ref = resolve_checkpoint(path)
    try:
        state = ckpt.read_client_state(ref)
    except (OSError, ValueError) as exc:
        raise UserError(f"checkpoint: cannot read the client state of {ref.path}: {exc}") from exc
    if not isinstance(state.get("config"), dict):
        raise UserError(f"checkpoint: {ref.path} records no training config in its client state")
    return Checkpoint(ref=ref, state=state, cfg=OmegaConf.create(state["config"]))


def _model_states_file(cp: Checkpoint) -> str:
    files = sorted(glob.glob(os.path.join(cp.path, "*model_states.pt")))
    if not files:
        raise UserError(f"checkpoint: no DeepSpeed model states file in {cp.path}")
    return files[0]


def _load_pickled(path: str) -> dict:
    """DeepSpeed writes pickles; mmap keeps a large rank-0 file from being read into memory."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for truncated/corrupt files
        raise UserError(f"checkpoint: cannot read {path}: {exc}") from exc


def _strip_wrappers(name: str) -> str:
    for prefix in _WRAPPER_PREFIXES:
        while name.startswith(prefix):
            name = name[len(prefix):]
    return name


def iter_state_dict(cp: Checkpoint) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, fp32 tensor) pairs of the consolidated model, one tensor materialised at a time."""
    if cp.ref.zero_stage == 0:
        # Without ZeRO the module state holds the full weights (in the training dtype: bf16 under bf16).
        for name, tensor in _load_pickled(_model_states_file(cp))["module"].items():
            yield _strip_wrappers(name), tensor.float()
        return
    # DeepSpeed logs (from import on) and zero_to_fp32's progress prints go to stderr: our CLIs' stdout
    # carries results only. Lazy mode gathers one tensor at a time from the ZeRO partitions, so a large
    # export never holds the whole model twice.
    with contextlib.redirect_stdout(sys.stderr):
        from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

        try:
            lazy = get_fp32_state_dict_from_zero_checkpoint(cp.ref.root, tag=cp.ref.tag, lazy_mode=True)
        except (FileNotFoundError, ValueError) as exc:
            raise UserError(f"checkpoint: cannot consolidate {cp.path}: {exc}") from exc
    for name, tensor in lazy.items():
        yield _strip_wrappers(name), tensor.contiguous().float()


def model_args(cp: Checkpoint, tokenizer: RunTokenizer) -> ModelArgs:
    """The model's ModelArgs (recorded in the client state, else rebuilt from the config as train does),
    checked against the tokenizer: the embedding must be the tokenizer's vocabulary, padded."""
    pad_to = cp.cfg.model.get("pad_vocab_to") or 1
    expected_vocab = model_args_from_config(cp.cfg.model, tokenizer.vocab_size).vocab_size
    recorded = cp.state.get("model_args")
    args = ModelArgs(**recorded) if isinstance(recorded, dict) else model_args_from_config(cp.cfg.model,
                                                                                           tokenizer.vocab_size)
    if cp.cfg.model.get("init_from") and isinstance(recorded, dict):
        expected_vocab = args.vocab_size  # an init model's embedding rows come from its folder, not our padding
    if tokenizer.vocab_size > args.vocab_size or expected_vocab != args.vocab_size:
        raise UserError(
            f"tokenizer {tokenizer.path} has {tokenizer.vocab_size} tokens (padded to a multiple of {pad_to}: "
            f"{expected_vocab}) but the model has {args.vocab_size} embedding rows: "
            "it is not the tokenizer this model was trained with")
    return args


def expected_shapes(args: ModelArgs) -> dict[str, tuple[int, ...]]:
    """Every tensor a checkpoint of this model holds, from a parameter-free (meta) instance."""
    with torch.device("meta"):
        model = Transformer(args)
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


def checked_tensors(cp: Checkpoint, args: ModelArgs) -> Iterator[tuple[str, torch.Tensor]]:
    """The checkpoint's tensors, each checked against the model its client state describes."""
    shapes = expected_shapes(args)
    seen = set()
    for name, tensor in iter_state_dict(cp):
        if name not in shapes:
            raise UserError(f"checkpoint: {cp.path} holds {name!r}, which the run's model config does not have")
        if tuple(tensor.shape) != shapes[name]:
            raise UserError(f"checkpoint: {name} has shape {tuple(tensor.shape)}, the run config says {shapes[name]}")
        seen.add(name)
        yield name, tensor
    # A tied lm_head is the embedding itself; DeepSpeed may store it once or under both names.
    missing = sorted(set(shapes) - seen - ({"lm_head.weight"} if "embed_tokens.weight" in seen else set()))
    if missing:
        raise UserError(f"checkpoint: {cp.path} lacks {missing[:4]} (not a checkpoint of this run's model)")


@dataclass
class RunTokenizer:
    """The run's tokenizer and the special ids recorded in its data manifest."""

    path: str
    tokenizer: Tokenizer
    eos_id: int
    bos_id: int | None
    sha256: str  # of the tokenizer file, as data_prep records it in every manifest

    @property
    def vocab_size(self) -> int:
        """Including added (special) tokens, as the manifest counts it."""
        return self.tokenizer.get_vocab_size(with_added_tokens=True)

    def token(self, token_id: int | None) -> str | None:
        return None if token_id is None else self.tokenizer.id_to_token(token_id)


def first_data_path(cfg: DictConfig) -> str | None:
    data = cfg.get("data", {})
    if data.get("path"):
        return data.path
    mix = data.get("mix") or []
    return mix[0].path if mix else None


def _trained_tokenizer(cp: Checkpoint) -> tuple[str, TokenizerInfo]:
    """The run dir's own copy (written at the start of training), else the data manifest's (older runs)."""
    copied = run_tokenizer_info(os.path.dirname(cp.ref.root))
    if copied is not None:
        return copied
    data_path = first_data_path(cp.cfg)
    if data_path is None:
        raise UserError("the run's config names no data.path/data.mix: cannot tell which tokenizer it used")
    try:
        manifest = load_manifest(data_path)
    except UserError as exc:
        raise UserError(f"the run's data manifest holds its tokenizer and special ids, but: {exc}") from exc
    return manifest.tokenizer_path, manifest.tokenizer


def run_tokenizer(cp: Checkpoint, override: str | None = None) -> RunTokenizer:
    """The tokenizer the run trained with, or ``override`` (a tokenizer.json or a directory holding one)."""
    trained_path, info = _trained_tokenizer(cp)
    path = override or trained_path
    if os.path.isdir(path):
        path = os.path.join(path, TOKENIZER_NAME)
    if not os.path.isfile(path):
        raise UserError(f"tokenizer: file not found: {path}")
    try:
        tokenizer = Tokenizer.from_file(path)
    except Exception as exc:  # noqa: BLE001 - tokenizers raises a bare Exception on bad JSON
        raise UserError(f"tokenizer: cannot load {path}: {exc}") from exc
    digest = file_sha256(path)
    if digest != info.sha256:
        log.warning("tokenizer %s is not the file the run was trained with (%s)", path, trained_path)
    return RunTokenizer(path=path, tokenizer=tokenizer, eos_id=info.eos_id, bos_id=info.bos_id, sha256=digest)


@dataclass
class LoadedRun:
    checkpoint: Checkpoint | None  # None for a Hugging Face folder
    model: Transformer
    tokenizer: RunTokenizer
    hf_folder: str | None = None

    @property
    def args(self) -> ModelArgs:
        return self.model.args

    @property
    def cfg(self) -> DictConfig:
        """The run's training config; empty for an HF folder (it records none)."""
        return self.checkpoint.cfg if self.checkpoint else OmegaConf.create({})

    @property
    def path(self) -> str:
        return self.checkpoint.path if self.checkpoint else self.hf_folder

    @property
    def step(self) -> int | None:
        return self.checkpoint.ref.step if self.checkpoint else None


def load_run(checkpoint: str, tokenizer: str | None = None) -> LoadedRun:
    """Resolve, consolidate and load a checkpoint (or an HF folder) into an fp32 ``Transformer`` in eval mode."""
    from train.hf.pretrained import is_hf_folder

    if os.path.isdir(checkpoint) and is_hf_folder(checkpoint):
        return load_hf_folder(checkpoint, tokenizer)
    cp = open_checkpoint(checkpoint)
    tok = run_tokenizer(cp, tokenizer)
    args = model_args(cp, tok)
    state = dict(checked_tensors(cp, args))
    if args.tie_embeddings:
        state["lm_head.weight"] = state["embed_tokens.weight"]
    model = Transformer(args)
    model.load_state_dict(state)
    return LoadedRun(checkpoint=cp, model=model.eval(), tokenizer=tok)


def hf_tokenizer(folder: str, override: str | None = None) -> RunTokenizer:
    """The folder's tokenizer.json (or ``override``) with the folder's EOS / BOS ids."""
    path = override or folder_tokenizer(folder)
    if path is None:
        raise UserError(f"checkpoint: {folder} has no tokenizer.json; pass tokenizer=/path/to/tokenizer.json")
    path = os.path.join(path, TOKENIZER_NAME) if os.path.isdir(path) else path
    if not os.path.isfile(path):
        raise UserError(f"tokenizer: file not found: {path}")
    try:
        tok = Tokenizer.from_file(path)
    except Exception as exc:  # noqa: BLE001 - tokenizers raises a bare Exception on bad JSON
        raise UserError(f"tokenizer: cannot load {path}: {exc}") from exc
    eos = special_id(folder, tok, "eos")
    if eos is None:
        raise UserError(f"checkpoint: {folder} names no EOS token id (generation_config.json, config.json, "
                        "tokenizer_config.json)")
    return RunTokenizer(path=path, tokenizer=tok, eos_id=eos, bos_id=special_id(folder, tok, "bos"),
                        sha256=file_sha256(path))


def load_hf_folder(folder: str, tokenizer: str | None = None) -> LoadedRun:
    from train.hf.pretrained import load_pretrained

    folder = os.path.abspath(folder)
    tok = hf_tokenizer(folder, tokenizer)
    model = load_pretrained(folder)
    if tok.vocab_size > model.args.vocab_size:
        raise UserError(f"tokenizer {tok.path} has {tok.vocab_size} tokens but the model in {folder} has "
                        f"{model.args.vocab_size} embedding rows: it is not this model's tokenizer")
    return LoadedRun(checkpoint=None, model=model.eval(), tokenizer=tok, hf_folder=folder)
