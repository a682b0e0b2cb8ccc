"""Infilling generation with a FIM-trained model: given a prefix and a suffix, write the middle.

The prompt is the PSM layout the model was trained on, ``<PRE> prefix <SUF> suffix <MID>``, after the
token a document starts from in training (BOS, else EOS); the model writes the middle and closes it
with ``<END>`` (or EOS, or runs into ``max_new_tokens``). Used by ``python -m train.generate mode=infill``
and by the self-feedback loop's synthetic source (``prompt=infill``) through ``infill_batch``: many
(prefix, suffix) pairs at once on ``train.batch_generate`` (seeded per document, batch-size independent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tokenizers import Tokenizer

from openpretrain.errors import UserError
from openpretrain.special_tokens import FIM_END, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX
from train.batch_generate import SamplingParams, generate_batch
from train.generate import Sampling, generate_tokens
from train.objectives.build import trained_objective
from train.objectives.config import ObjectiveName
from train.objectives.fim import FimTokens, psm_prompt


@dataclass(frozen=True)
class Middle:
    text: str
    tokens: list[int]  # the middle's ids, the closing token excluded
    stop: str  # "end" (<END> written), "eos", or "length" (max_new_tokens reached first)


def require_fim(config: dict[str, Any] | Any, checkpoint: str) -> None:
    name = trained_objective(config)
    if name != ObjectiveName.fim.value:
        raise UserError(f"mode=infill needs a checkpoint trained with objective=fim; {checkpoint} was trained "
                        f"with objective={name}")


def fim_tokens(tokenizer: Tokenizer) -> FimTokens:
    ids = [tokenizer.token_to_id(t) for t in (FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, FIM_END)]
    if any(i is None for i in ids):
        raise UserError("the run's tokenizer has no FIM sentinel tokens (prepare with tokenizer.objective_tokens=[fim])")
    return FimTokens(*ids)  # type: ignore[arg-type]


def infill_ids(model, prefix: list[int], suffix: list[int], fim: FimTokens, start_id: int | None,
               max_new_tokens: int, sampling: Sampling, num_samples: int = 1, seed: int = 0,
               eos_id: int | None = None, decodable_vocab: int | None = None) -> list[tuple[list[int], str]]:
    """(middle ids without the closing token, how it stopped) per sample."""
    prompt = ([start_id] if start_id is not None else []) + psm_prompt(prefix, suffix, fim)
    rows = generate_tokens(model, prompt, max_new_tokens, sampling, num_samples, seed, eos_id, decodable_vocab,
                           stop_ids=(fim.end,))
    return [_closed(row, fim, eos_id) for row in rows]


def infill_texts(model, tokenizer: Tokenizer, prefix: str, suffix: str, max_new_tokens: int, sampling: Sampling,
                 eos_id: int, bos_id: int | None = None, num_samples: int = 1, seed: int = 0) -> list[Middle]:
    """Middles between ``prefix`` and ``suffix`` (strings): the function the loop's synthetic source calls."""
    fim = fim_tokens(tokenizer)

    def encode(text: str) -> list[int]:
        return tokenizer.encode(text, add_special_tokens=False).ids if text else []

    start = bos_id if bos_id is not None else eos_id
    rows = infill_ids(model, encode(prefix), encode(suffix), fim, start, max_new_tokens, sampling, num_samples,
                      seed, eos_id, tokenizer.get_vocab_size(with_added_tokens=True))
    return [Middle(tokenizer.decode(ids, skip_special_tokens=True), ids, stop) for ids, stop in rows]


def _closed(ids: list[int], fim: FimTokens, eos_id: int | None) -> tuple[list[int], str]:
    """Cut a generated row at the first <END> or EOS: (middle, how it stopped)."""
    for i, token in enumerate(ids):
        if token == fim.end:
            return ids[:i], "end"
        if eos_id is not None and token == eos_id:
            return ids[:i], "eos"
    return ids, "length"


def infill_batch(model, tokenizer: Tokenizer, pairs: list[tuple[str, str]], params: SamplingParams, eos_id: int,
                 bos_id: int | None = None, batch_size: int = 16, first_index: int = 0) -> list[Middle]:
    """The middle of every (prefix, suffix) pair, in order; pair i samples from stream (params.seed,
    first_index + i), so a resumed generation continues exactly. ``params.min_new_tokens`` holds back
    <END> (the stop token here) until that many middle tokens exist."""
    fim = fim_tokens(tokenizer)
    start = bos_id if bos_id is not None else eos_id

    def encode(text: str) -> list[int]:
        return tokenizer.encode(text, add_special_tokens=False).ids if text else []

    prompts = [[start, *psm_prompt(encode(prefix), encode(suffix), fim)] for prefix, suffix in pairs]
    rows = generate_batch(model, prompts, params, batch_size=batch_size, eos_id=fim.end,
                          decodable_vocab=tokenizer.get_vocab_size(with_added_tokens=True), first_index=first_index)
    middles = [_closed(row, fim, eos_id) for row in rows]
    return [Middle(tokenizer.decode(ids, skip_special_tokens=True), ids, stop) for ids, stop in middles]


@dataclass(frozen=True)
class InfilledDocument:
    """A real document with one span replaced by the model's middle; ``span`` = the replaced characters."""

    text: str
    span: tuple[int, int]  # [start, end) in the original text
    original_middle: str
    middle: Middle


def choose_span(text: str, rng, min_fraction: float, max_fraction: float) -> tuple[int, int]:
    """A span of roughly ``min..max_fraction`` of the characters, starting and ending at word starts (so the
    prefix and suffix tokenize as they would in running text); (0, 0) for a text without two words."""
    starts = [i for i in range(1, len(text)) if text[i - 1].isspace() and not text[i].isspace()]
    if len(starts) < 2:
        return (0, 0)
    want = int(len(text) * rng.uniform(min_fraction, max_fraction))
    first = starts[int(rng.integers(0, len(starts) - 1))]
    later = [s for s in starts if s > first]
    end = next((s for s in later if s - first >= want), later[-1])
    return first, end


def infill_documents(model, tokenizer: Tokenizer, texts: list[str], doc_ids: list[str], params: SamplingParams,
                     min_fraction: float, max_fraction: float, eos_id: int, bos_id: int | None = None,
                     batch_size: int = 16, first_index: int = 0) -> list[InfilledDocument]:
    """``prompt=infill`` for the self-feedback loop: per document a span (seeded by (params.seed, doc id)) is
    cut out and the model writes a new middle between the real prefix and suffix."""
    from train.objectives.seeding import sample_rng

    spans = [choose_span(text, sample_rng(params.seed, "infill", doc_id), min_fraction, max_fraction)
             for text, doc_id in zip(texts, doc_ids)]
    pairs = [(text[:a], text[b:]) for text, (a, b) in zip(texts, spans)]
    middles = infill_batch(model, tokenizer, pairs, params, eos_id, bos_id, batch_size, first_index)
    return [InfilledDocument(prefix + m.text + suffix, (a, b), text[a:b], m)
            for text, (prefix, suffix), (a, b), m in zip(texts, pairs, spans, middles)]
