"""``python -m train.generate checkpoint=RUN_DIR|HF_DIR prompt="..." [max_new_tokens= temperature= top_k= top_p= seed=]``

Samples continuations with the KV cache of ``train.model`` (the prompt is processed once, then one token
per step). ``temperature=0`` is greedy decoding. The same seed gives the same text. Each continuation
stops at the tokenizer's EOS or after ``max_new_tokens``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

from openpretrain.cli import hydra_entry, to_object
from openpretrain.errors import UserError, require

log = logging.getLogger(__name__)


@dataclass
class GenerateConfig:
    checkpoint: str = MISSING  # a run dir (newest complete checkpoint), run_dir/checkpoints/step_N, or an HF folder
    prompt: str = MISSING
    max_new_tokens: int = MISSING
    temperature: float = MISSING  # 0 = greedy
    top_k: int = MISSING  # 0 = no top-k filter
    top_p: float = MISSING  # 1 = no nucleus filter
    seed: int = MISSING
    num_samples: int = MISSING
    tokenizer: str | None = MISSING  # None = the run's tokenizer (from its data manifest)
    json: bool = MISSING  # print one JSON object instead of plain text


def register() -> None:
    ConfigStore.instance().store(name="generate_schema", node=GenerateConfig)


def validate(cfg: GenerateConfig) -> None:
    require(bool(cfg.checkpoint), "checkpoint", "must name a run dir or a checkpoint dir")
    require(cfg.max_new_tokens >= 1, "max_new_tokens", f"must be >= 1, got {cfg.max_new_tokens}")
    require(cfg.temperature >= 0, "temperature", f"must be >= 0 (0 = greedy), got {cfg.temperature}")
    require(cfg.top_k >= 0, "top_k", f"must be >= 0 (0 = off), got {cfg.top_k}")
    require(0 < cfg.top_p <= 1, "top_p", f"must be in (0, 1], got {cfg.top_p}")
    require(cfg.num_samples >= 1, "num_samples", f"must be >= 1, got {cfg.num_samples}")


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0


def _filter_logits(logits, sampling: Sampling):
    """Top-k then nucleus filtering on (batch, vocab) logits already divided by the temperature."""
    import torch

    if sampling.top_k > 0 and sampling.top_k < logits.shape[-1]:
        kth = torch.topk(logits, sampling.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if sampling.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        # Drop a token when the tokens ranked above it already cover top_p (the first always stays).
        drop_sorted = probs.cumsum(-1) - probs >= sampling.top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def next_tokens(logits, sampling: Sampling, generator):
    import torch

    if sampling.temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(_filter_logits(logits.float() / sampling.temperature, sampling), dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def generate_tokens(
    model, prompt: list[int], max_new_tokens: int, sampling: Sampling, num_samples: int = 1,
    seed: int = 0, eos_id: int | None = None, decodable_vocab: int | None = None,
) -> list[list[int]]:
    """New token ids for ``num_samples`` continuations of ``prompt`` (batched, one KV cache per layer).

    ``decodable_vocab``: ids at or above it are embedding padding the tokenizer cannot decode; they are
    never produced (Hugging Face does the same through generation_config's ``suppress_tokens``).
    """
    import torch

    from train.model import KVCache

    if not prompt:
        raise UserError("prompt: needs at least one token")
    if len(prompt) + max_new_tokens > model.args.max_seq_len:
        raise UserError(f"max_new_tokens: prompt ({len(prompt)} tokens) + {max_new_tokens} new tokens exceed the "
                        f"model's max_seq_len={model.args.max_seq_len}")
    generator = torch.Generator().manual_seed(seed)
    caches = [KVCache() for _ in range(model.args.n_layers)]
    tokens = torch.tensor([prompt] * num_samples, dtype=torch.long, device=model.embed_tokens.weight.device)
    out = torch.empty((num_samples, 0), dtype=torch.long, device=tokens.device)
    done = torch.zeros(num_samples, dtype=torch.bool, device=tokens.device)
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            logits = model(tokens, kv_caches=caches)[:, -1, :].float()
            if decodable_vocab is not None and decodable_vocab < logits.shape[-1]:
                logits[:, decodable_vocab:] = float("-inf")
            step = next_tokens(logits, sampling, generator)
            out = torch.cat([out, step[:, None]], dim=1)
            if eos_id is not None:
                done |= step == eos_id
                if bool(done.all()):
                    break
            tokens = step[:, None]
    return [_until_eos(row, eos_id) for row in out.tolist()]


def _until_eos(ids: list[int], eos_id: int | None) -> list[int]:
    return ids[: ids.index(eos_id) + 1] if eos_id is not None and eos_id in ids else ids


def prompt_ids(tokenizer, text: str) -> list[int]:
    """Prompt tokens: BOS first when the run has one; an empty prompt starts from BOS, else from EOS
    (training saw every document begin right after an EOS)."""
    ids = tokenizer.tokenizer.encode(text, add_special_tokens=False).ids if text else []
    start = tokenizer.bos_id if tokenizer.bos_id is not None else (None if ids else tokenizer.eos_id)
    return ([start] if start is not None else []) + ids


def run(cfg: GenerateConfig) -> list[dict]:
    import torch

    from train.load import load_run

    torch.manual_seed(cfg.seed)
    loaded = load_run(cfg.checkpoint, cfg.tokenizer)
    tok = loaded.tokenizer
    prompt = prompt_ids(tok, cfg.prompt)
    sampling = Sampling(cfg.temperature, cfg.top_k, cfg.top_p)
    samples = generate_tokens(loaded.model, prompt, cfg.max_new_tokens, sampling, cfg.num_samples, cfg.seed,
                              tok.eos_id, tok.vocab_size)
    return [
        {"prompt": cfg.prompt, "completion": tok.tokenizer.decode(ids, skip_special_tokens=True), "tokens": ids}
        for ids in samples
    ]


register()


@hydra_entry("generate")
def main(cfg: DictConfig) -> None:
    gen_cfg: GenerateConfig = to_object(cfg)
    validate(gen_cfg)
    results = run(gen_cfg)
    if gen_cfg.json:
        print(json.dumps({"checkpoint": gen_cfg.checkpoint, "samples": results}))
        return
    for i, result in enumerate(results):
        if len(results) > 1:
            print(f"--- sample {i + 1}/{len(results)}")
        print(gen_cfg.prompt + result["completion"], flush=True)


if __name__ == "__main__":
    main()
