"""Batched sampling from ``train.model.Transformer`` with its KV cache (the synthetic source's engine).

Prompts of different lengths share one batch without padding: every row sits at the same position, the
shared prefix (the shortest prompt) is prefilled in one forward pass, and after that each step feeds, per
row, either its next prompt token (teacher-forced, nothing sampled) or its last sampled token. The model's
single ``start`` position per cache therefore stays correct for every row, no pad token is ever attended,
and a row's computation is the same as when it runs alone: batched greedy output equals unbatched output.

Determinism: document ``i`` draws its random numbers from its own CPU generator seeded by ``(seed, i)``,
and only on the steps where it samples. Its tokens therefore depend on the seed, its index, its prompt and
the model, not on ``batch_size`` or on which other prompts share the batch (exactly so on CPU; on GPU the
logits of different batch shapes can differ in the last bits, which can flip a draw that lands on a
boundary; greedy decoding is unaffected unless two logits tie). Sampling runs on CPU for the same reason:
the same seed gives the same draws on GPU and CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from openpretrain.errors import UserError, require
from train.generate import Sampling, _filter_logits
from train.model import KVCache, Transformer


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.0  # 0 = greedy
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1 = off
    max_new_tokens: int = 64
    min_new_tokens: int = 0  # EOS is suppressed until this many tokens were generated
    seed: int = 0

    def validate(self) -> None:
        checks = [
            (self.temperature >= 0, "temperature", f"must be >= 0 (0 = greedy), got {self.temperature}"),
            (self.top_k >= 0, "top_k", f"must be >= 0 (0 = off), got {self.top_k}"),
            (0 < self.top_p <= 1, "top_p", f"must be in (0, 1], got {self.top_p}"),
            (self.max_new_tokens >= 1, "max_new_tokens", f"must be >= 1, got {self.max_new_tokens}"),
            (0 <= self.min_new_tokens <= self.max_new_tokens, "min_new_tokens",
             f"must be in [0, max_new_tokens={self.max_new_tokens}], got {self.min_new_tokens}"),
        ]
        for ok, key, message in checks:
            require(ok, key, message)


def default_device() -> torch.device:
    """Where generation runs: the GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def row_generator(seed: int, index: int) -> torch.Generator:
    """The random stream of document ``index``: a function of (seed, index) only."""
    mixed = (seed * 0x9E3779B97F4A7C15 + index * 0xBF58476D1CE4E5B9 + 1) % (2**63 - 1)
    return torch.Generator().manual_seed(mixed)


def generate_batch(
    model: Transformer, prompts: Sequence[Sequence[int]], params: SamplingParams, *, batch_size: int = 16,
    eos_id: int | None = None, decodable_vocab: int | None = None, first_index: int = 0,
) -> list[list[int]]:
    """New tokens for every prompt, in prompt order (each ends with EOS if it stopped there).

    ``first_index``: the document index of ``prompts[0]`` in the whole run, so a resumed run that starts
    at document 1000 draws the same numbers for it as an uninterrupted one. ``decodable_vocab``: ids at or
    above it are embedding padding the tokenizer cannot decode; they are never produced.
    """
    params.validate()
    require(batch_size >= 1, "batch_size", f"must be >= 1, got {batch_size}")
    _check_prompts(model, prompts, params.max_new_tokens)
    # Sorting by length keeps the teacher-forced stretch of each batch short; results do not depend on it.
    order = sorted(range(len(prompts)), key=lambda i: (len(prompts[i]), i))
    results: list[list[int]] = [[] for _ in prompts]
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        outputs = _generate_chunk(
            model, [list(prompts[i]) for i in chunk], params, [first_index + i for i in chunk], eos_id,
            decodable_vocab,
        )
        for i, out in zip(chunk, outputs):
            results[i] = out
    return results


def _check_prompts(model: Transformer, prompts: Sequence[Sequence[int]], max_new_tokens: int) -> None:
    for i, prompt in enumerate(prompts):
        if not prompt:
            raise UserError(f"prompt {i}: needs at least one token (start from BOS or EOS)")
        if len(prompt) + max_new_tokens > model.args.max_seq_len:
            raise UserError(f"max_new_tokens: prompt {i} ({len(prompt)} tokens) + {max_new_tokens} new tokens "
                            f"exceed the model's max_seq_len={model.args.max_seq_len}")


@dataclass
class _Rows:
    """The live rows of one chunk: their prompts, outputs and random streams (parallel lists)."""

    slots: list[int]  # position of the row in the chunk's output list
    prompts: list[list[int]]
    outputs: list[list[int]]
    generators: list[torch.Generator]


def _generate_chunk(
    model: Transformer, prompts: list[list[int]], params: SamplingParams, indices: list[int],
    eos_id: int | None, decodable_vocab: int | None,
) -> list[list[int]]:
    device = model.embed_tokens.weight.device
    caches = [KVCache() for _ in range(model.args.n_layers)]
    shared = min(len(p) for p in prompts)
    rows = _Rows(list(range(len(prompts))), prompts, [[] for _ in prompts],
                 [row_generator(params.seed, i) for i in indices])
    finished: list[list[int]] = [[] for _ in prompts]
    tokens = torch.tensor([p[:shared] for p in prompts], dtype=torch.long, device=device)
    position = shared  # tokens fed so far, the same for every live row
    with torch.inference_mode():
        while rows.slots:
            logits = model(tokens, kv_caches=caches)[:, -1, :].float()
            choices = _choices(logits, rows, params, eos_id, decodable_vocab)
            feed, keep = [], []
            for r, prompt in enumerate(rows.prompts):
                if position < len(prompt):  # still inside its prompt: teacher-forced, nothing drawn
                    feed.append(prompt[position])
                    keep.append(r)
                    continue
                token = _pick(choices, r, rows.generators[r])
                rows.outputs[r].append(token)
                if _row_done(rows.outputs[r], params.max_new_tokens, eos_id):
                    finished[rows.slots[r]] = rows.outputs[r]
                else:
                    feed.append(token)
                    keep.append(r)
            if len(keep) < len(rows.slots):
                rows = _select(rows, keep)
                _drop_rows(caches, keep, device)
            tokens = torch.tensor(feed, dtype=torch.long, device=device)[:, None]
            position += 1
    return finished


def _choices(logits: torch.Tensor, rows: _Rows, params: SamplingParams, eos_id: int | None,
             decodable_vocab: int | None) -> list[int] | torch.Tensor:
    """Greedy picks (a list) or per-row sampling probabilities on the CPU, computed for the whole batch on
    the model's device; every operation is row-wise, so a row's values do not depend on its neighbours."""
    if decodable_vocab is not None and decodable_vocab < logits.shape[-1]:
        logits[:, decodable_vocab:] = float("-inf")
    if eos_id is not None and params.min_new_tokens > 0:
        early = [r for r, out in enumerate(rows.outputs) if len(out) < params.min_new_tokens]
        logits[early, eos_id] = float("-inf")
    if params.temperature == 0:
        return logits.argmax(dim=-1).tolist()
    sampling = Sampling(params.temperature, params.top_k, params.top_p)
    return torch.softmax(_filter_logits(logits / params.temperature, sampling), dim=-1).cpu()


def _pick(choices: list[int] | torch.Tensor, r: int, generator: torch.Generator) -> int:
    if isinstance(choices, list):
        return choices[r]
    return int(torch.multinomial(choices[r], 1, generator=generator))


def _row_done(output: list[int], max_new_tokens: int, eos_id: int | None) -> bool:
    return len(output) >= max_new_tokens or (eos_id is not None and bool(output) and output[-1] == eos_id)


def _select(rows: _Rows, keep: list[int]) -> _Rows:
    return _Rows(*([values[r] for r in keep] for values in (rows.slots, rows.prompts, rows.outputs,
                                                             rows.generators)))


def _drop_rows(caches: list[KVCache], keep: list[int], device: torch.device) -> None:
    """Finished rows leave the batch, so the remaining ones stop paying for them."""
    index = torch.tensor(keep, dtype=torch.long, device=device)
    for cache in caches:
        if cache.k is not None:
            cache.k, cache.v = cache.k.index_select(0, index), cache.v.index_select(0, index)


def weights_hash(model: Transformer) -> str:
    """sha256 (first 16 hex digits) of the parameters, by name order: the generator's identity in the
    synthetic documents' provenance, whatever ZeRO stage or path the checkpoint was loaded from."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]
