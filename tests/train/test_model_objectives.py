"""The model's objective switches: bidirectional attention (MLM) and the loss on labelled positions only."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from train.model import ModelArgs, Transformer


def _model(causal: bool) -> Transformer:
    torch.manual_seed(0)
    args = ModelArgs(dim=32, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=64, vocab_size=64, max_seq_len=32,
                     causal=causal)
    return Transformer(args).eval()


def test_attention_direction_follows_the_causal_flag():
    tokens = torch.randint(0, 64, (1, 12), generator=torch.Generator().manual_seed(1))
    changed = tokens.clone()
    changed[0, -1] = (tokens[0, -1] + 1) % 64
    with torch.no_grad():
        causal, bidirectional = _model(True), _model(False)
        assert torch.equal(causal(tokens)[0, :-1], causal(changed)[0, :-1])  # the past never sees the future
        assert not torch.allclose(bidirectional(tokens)[0, 0], bidirectional(changed)[0, 0])
        # Same parameters, same layout: only the mask differs.
        assert causal.state_dict().keys() == bidirectional.state_dict().keys()


def test_labelled_only_loss_matches_full_logits_on_those_positions():
    model = _model(False)
    gen = torch.Generator().manual_seed(2)
    tokens = torch.randint(0, 64, (3, 16), generator=gen)
    targets = torch.full_like(tokens, -100)
    where = torch.rand(3, 16, generator=gen) < 0.2
    targets[where] = torch.randint(0, 64, (int(where.sum()),), generator=gen)
    with torch.no_grad():
        logits = model(tokens)
        loss, correct = model(tokens, targets=targets, labelled_only=True)
        expected = F.cross_entropy(logits[where].float(), targets[where])
        assert torch.allclose(loss, expected, atol=1e-5)
        assert int(correct) == int((logits[where].argmax(-1) == targets[where]).sum())
        empty_loss, empty_correct = model(tokens, targets=torch.full_like(tokens, -100), labelled_only=True)
    assert float(empty_loss) == 0.0 and int(empty_correct) == 0
    # And the gradient flows only through the labelled positions' logits.
    loss, _ = model(tokens, targets=targets, labelled_only=True)
    loss.backward()
    assert model.lm_head.weight.grad is not None and torch.isfinite(model.lm_head.weight.grad).all()
