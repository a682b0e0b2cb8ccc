"""prompt=infill building blocks: the replaced span (word-aligned, seeded per document) and the rebuilt text."""

from __future__ import annotations

import numpy as np
import torch
from tokenizers import Tokenizer, models, pre_tokenizers

from openpretrain.special_tokens import OBJECTIVE_TOKENS
from train.batch_generate import SamplingParams
from train.infill import choose_span, infill_documents
from train.model import ModelArgs, Transformer
from train.objectives.seeding import sample_rng

TEXT = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau"


def test_span_is_word_aligned_sized_and_seeded():
    for i in range(200):
        a, b = choose_span(TEXT, sample_rng(1, "infill", f"doc{i}"), 0.1, 0.3)
        assert 0 < a < b <= len(TEXT)
        assert TEXT[a - 1] == " " and TEXT[a] != " " and (b == len(TEXT) or TEXT[b - 1] == " ")
        assert b - a <= 0.3 * len(TEXT) + 12  # snapped to the next word start: at most one word over
    assert choose_span(TEXT, sample_rng(1, "infill", "d"), 0.1, 0.3) == choose_span(
        TEXT, sample_rng(1, "infill", "d"), 0.1, 0.3)
    assert len({choose_span(TEXT, sample_rng(1, "infill", f"d{i}"), 0.1, 0.3) for i in range(20)}) > 5
    assert choose_span("oneword", np.random.default_rng(0), 0.1, 0.3) == (0, 0)


def _tokenizer() -> Tokenizer:
    words = sorted(set(TEXT.split()))
    vocab = {"<|endoftext|>": 0, **{t: i + 1 for i, t in enumerate(OBJECTIVE_TOKENS["fim"])}}
    vocab.update({w: i + 5 for i, w in enumerate(words)})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="alpha"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_special_tokens(list(vocab)[:5])
    return tok


def test_infill_documents_rebuilds_text_and_records_the_span():
    torch.manual_seed(0)
    model = Transformer(ModelArgs(dim=32, n_layers=1, n_heads=2, n_kv_heads=2, ffn_dim=64, vocab_size=32,
                                  max_seq_len=64)).eval()
    tok = _tokenizer()
    texts, ids = [TEXT, TEXT[:60]], ["d0", "d1"]
    params = SamplingParams(temperature=1.0, max_new_tokens=5, seed=3)
    docs = infill_documents(model, tok, texts, ids, params, 0.1, 0.3, eos_id=0, batch_size=2)
    for text, doc in zip(texts, docs):
        a, b = doc.span
        assert doc.original_middle == text[a:b]
        assert doc.text == text[:a] + doc.middle.text + text[b:]
        assert doc.middle.stop in ("end", "eos", "length") and len(doc.middle.tokens) <= 5
    again = infill_documents(model, tok, texts, ids, params, 0.1, 0.3, eos_id=0, batch_size=1)
    assert [d.text for d in again] == [d.text for d in docs]  # seeded per document, batch size irrelevant
