"""The synthetic source's model side: load a checkpoint, check its tokenizer, build prompts, sample.

Loading goes through train's checkpoint code (``train.load``: run dir or step_N, any ZeRO stage,
consolidated to fp32). The generator's tokenizer must be the prep's tokenizer (same vocabulary, merges and
special tokens): otherwise the ids would mean other text, and that is refused in one line.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from tokenizers import Tokenizer

from data_prep.config import PrepConfig, SourceConfig
from data_prep.output.tokenizer import load_tokenizer
from data_prep.sources.prepared import iter_document_tokens
from openpretrain.errors import UserError
from openpretrain.manifest import load_manifest


def doc_id(src: SourceConfig, index: int) -> str:
    return f"{src.name}/r{src.loop_round}/s{src.seed}/{index:09d}"


def sampling_params(src: SourceConfig) -> dict[str, Any]:
    return {"temperature": src.temperature, "top_k": src.top_k, "top_p": src.top_p,
            "max_new_tokens": src.max_new_tokens, "min_new_tokens": src.min_new_tokens, "seed": src.seed,
            "prompt": src.prompt, "prompt_tokens": src.prompt_tokens if src.prompt == "prefix" else 0}


def same_tokenizer(a: Tokenizer, b: Tokenizer) -> bool:
    """Equal vocabularies, merges, normalisation and special tokens (the serialised form, not file bytes)."""
    return a.to_str() == b.to_str()


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("device: cuda was asked for but no GPU is visible (use device=auto or cpu)")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def check_tokenizer(theirs: Tokenizer, where: str, cfg: PrepConfig, key: str) -> None:
    ours = load_tokenizer(cfg.tokenizer)
    if not same_tokenizer(theirs, ours):
        used = cfg.tokenizer.path or cfg.tokenizer.name
        raise UserError(f"{key}: the tokenizer of {where} differs from the tokenizer this prep uses ({used}); "
                        "generate and prepare with the same tokenizer (tokenizer=file tokenizer.path=REAL_DIR/tokenizer.json)")


class Generator:
    def __init__(self, cfg: PrepConfig, checkpoint: str) -> None:
        from train.load import load_run, open_checkpoint, run_tokenizer

        self.src = cfg.source
        run_tok = run_tokenizer(open_checkpoint(checkpoint))
        check_tokenizer(run_tok.tokenizer, f"checkpoint {checkpoint}", cfg, "source.checkpoint")
        self.run = load_run(checkpoint)
        self.tokenizer = self.run.tokenizer
        self.device = resolve_device(self.src.device)
        self.model = self.run.model.to(self.device)
        self.prompts = self._prompts(cfg)
        longest = max(len(p) for _, p in self.prompts)
        if longest + self.src.max_new_tokens > self.run.args.max_seq_len:
            raise UserError(f"source.max_new_tokens: prompts of {longest} tokens + {self.src.max_new_tokens} new "
                            f"tokens exceed the model's max_seq_len={self.run.args.max_seq_len}")

    def _prompts(self, cfg: PrepConfig) -> list[tuple[str | None, list[int]]]:
        """(prompt document id, token ids); every prompt starts at a document boundary (EOS), as in training."""
        start = [self.tokenizer.eos_id]
        if self.src.prompt == "unconditional":
            return [(None, start)]
        data = self.src.prompt_data
        prompt_tok = Tokenizer.from_file(load_manifest(data).tokenizer_path)
        check_tokenizer(prompt_tok, f"source.prompt_data={data}", cfg, "source.prompt_data")
        prompts = []
        for doc_id, tokens in iter_document_tokens(data, "train"):
            if len(tokens):
                prompts.append((doc_id, start + tokens[: self.src.prompt_tokens].tolist()))
            if len(prompts) == self.src.num_docs:
                break
        if not prompts:
            raise UserError(f"source.prompt_data: {data} has no complete train document to prompt with")
        return prompts

    def record(self) -> dict[str, Any]:
        """The generator's identity and sampling setup (provenance of every document it writes)."""
        from train.batch_generate import weights_hash

        ref = self.run.checkpoint.ref
        return {"checkpoint": os.path.abspath(ref.path), "step": ref.step, "weights_hash": weights_hash(self.model),
                "sampling": sampling_params(self.src), "loop_round": self.src.loop_round,
                "prompt_data": os.path.abspath(self.src.prompt_data) if self.src.prompt_data else None,
                "num_docs": self.src.num_docs, "tokenizer_sha256": self.tokenizer.sha256,
                "device": self.device.type}

    def documents(self, first: int, count: int, info: dict[str, Any]) -> list[dict[str, Any]]:
        """Documents ``first .. first+count-1`` as JSON rows {id, text, meta}."""
        from train.batch_generate import SamplingParams, generate_batch

        src = self.src
        params = SamplingParams(temperature=src.temperature, top_k=src.top_k, top_p=src.top_p,
                                max_new_tokens=src.max_new_tokens, min_new_tokens=src.min_new_tokens, seed=src.seed)
        chosen = [self.prompts[i % len(self.prompts)] for i in range(first, first + count)]
        outputs = generate_batch(self.model, [p for _, p in chosen], params, batch_size=src.batch_size,
                                 eos_id=self.tokenizer.eos_id, decodable_vocab=self.tokenizer.vocab_size,
                                 first_index=first)
        generator = {k: info[k] for k in ("checkpoint", "step", "weights_hash")}
        rows = []
        for offset, ((prompt_id, _), tokens) in enumerate(zip(chosen, outputs)):
            ended = bool(tokens) and tokens[-1] == self.tokenizer.eos_id
            text = self.tokenizer.tokenizer.decode(tokens[:-1] if ended else tokens, skip_special_tokens=False)
            rows.append({"id": doc_id(src, first + offset), "text": text, "meta": {
                "synthetic": True, "generator": generator, "sampling": info["sampling"],
                "loop_round": src.loop_round, "prompt_doc_id": prompt_id, "index": first + offset,
                "stop": "eos" if ended else "length", "new_tokens": len(tokens)}})
        return rows

