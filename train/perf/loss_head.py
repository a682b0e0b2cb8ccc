"""lm_head + cross-entropy in token chunks, never the full fp32 logits; the one IGNORE_INDEX."""

from __future__ import annotations

import torch

# F.cross_entropy's default: target positions holding it add nothing to the loss (masked rows, padding).
IGNORE_INDEX = -100

def _chunk_logits(hidden: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    # Matmul in the compute dtype (bf16 on GPU), softmax statistics in fp32 — as the plain path does.
    return (hidden @ weight.t()).float()


def _chunk_loss_sum(logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, ...]:
    lse = torch.logsumexp(logits, dim=-1)
    safe_targets = torch.where(valid, targets, torch.zeros_like(targets))
    target_logit = logits.gather(1, safe_targets[:, None]).squeeze(1)
    return ((lse - target_logit) * valid).sum(), lse, safe_targets


class _LinearCrossEntropy(torch.autograd.Function):
    """Mean CE of ``hidden @ weight.T``; gradients are computed chunk by chunk during forward.

    Peak extra memory is O(chunk x vocab) instead of O(tokens x vocab): each chunk's fp32 logits are
    turned into d(loss)/d(logits) in place and immediately contracted into the hidden and weight grads.
    Computing grads in forward avoids recomputing the lm_head matmul in backward (the loss is always
    followed by backward in training; the no-grad path below skips this work).
    """

    @staticmethod
    def forward(ctx, hidden, weight, targets, chunk_size: int, ignore_index: int):  # noqa: ANN001, ANN205
        valid_all = targets != ignore_index
        # A tensor, not a Python int: no host sync inside the step.
        n_valid = valid_all.sum().clamp(min=1).float()
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        grad_hidden = torch.empty_like(hidden)
        grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
        for start in range(0, hidden.shape[0], chunk_size):
            h = hidden[start : start + chunk_size]
            t, valid = targets[start : start + chunk_size], valid_all[start : start + chunk_size]
            logits = _chunk_logits(h, weight)
            loss_sum, lse, safe_targets = _chunk_loss_sum(logits, t, valid)
            total += loss_sum
            # d(mean CE)/d(logits) = (softmax - onehot) * valid / n_valid, built in the logits buffer.
            grad_logits = logits.sub_(lse[:, None]).exp_()
            grad_logits.scatter_add_(1, safe_targets[:, None], torch.full_like(lse[:, None], -1.0))
            grad_logits.mul_((valid / n_valid)[:, None])
            grad_logits = grad_logits.to(hidden.dtype)
            grad_hidden[start : start + chunk_size] = grad_logits @ weight
            grad_weight.add_(grad_logits.t() @ h)
        ctx.save_for_backward(grad_hidden, grad_weight.to(weight.dtype))
        return total / n_valid

    @staticmethod
    def backward(ctx, grad_output):  # noqa: ANN001, ANN205
        grad_hidden, grad_weight = ctx.saved_tensors
        return grad_hidden * grad_output.to(grad_hidden.dtype), grad_weight * grad_output.to(grad_weight.dtype), None, None, None


def _linear_cross_entropy_no_grad(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk_size: int, ignore_index: int
) -> torch.Tensor:
    valid_all = targets != ignore_index
    total = torch.zeros((), dtype=torch.float32, device=hidden.device)
    for start in range(0, hidden.shape[0], chunk_size):
        logits = _chunk_logits(hidden[start : start + chunk_size], weight)
        total += _chunk_loss_sum(logits, targets[start : start + chunk_size], valid_all[start : start + chunk_size])[0]
    return total / valid_all.sum().clamp(min=1).float()


def linear_cross_entropy(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk_size: int, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """Mean next-token CE of ``hidden @ weight.T`` against ``targets``, ``chunk_size`` tokens at a time.

    hidden: (..., dim), weight: (vocab, dim), targets: (...). Ignored targets do not count in the mean;
    a batch with no valid target gives 0 (the plain path would give NaN).
    """
    hidden = hidden.reshape(-1, hidden.shape[-1])
    targets = targets.reshape(-1)
    if torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad):
        return _LinearCrossEntropy.apply(hidden, weight, targets, chunk_size, ignore_index)
    return _linear_cross_entropy_no_grad(hidden, weight, targets, chunk_size, ignore_index)
