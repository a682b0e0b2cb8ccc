"""A Llama-style decoder: RoPE, RMSNorm, SwiGLU, grouped-query attention, SDPA causal attention.

Layout and RoPE convention (rotate-half, non-interleaved) match Hugging Face ``LlamaForCausalLM`` so
export is a pure renaming of tensors (see train/export). Sizes come from conf/model/*.yaml.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from train.perf import IGNORE_INDEX, linear_cross_entropy, sdpa_backend


@dataclass(frozen=True)
class ModelArgs:
    dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    ffn_dim: int
    vocab_size: int  # already padded (see padded_vocab_size)
    max_seq_len: int = 4096
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    tie_embeddings: bool = False
    init_std: float = 0.02
    qkv_bias: bool = False  # biases on the q/k/v projections (Qwen2's shape); Llama and Mistral have none

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads


def padded_vocab_size(vocab_size: int, multiple: int) -> int:
    """Round the vocabulary up: embedding/output matmuls run faster on multiples of 64/128."""
    return vocab_size if multiple <= 1 else math.ceil(vocab_size / multiple) * multiple


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalise in fp32 (bf16 variance is too coarse), cast back like HF Llama does.
        dtype = x.dtype
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(dtype)


def rope_tables(head_dim: int, max_seq_len: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables of shape (max_seq_len, head_dim) in the rotate-half layout."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(max_seq_len, dtype=torch.float32), inv_freq)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: (batch, heads, seq, head_dim); cos/sin: (seq, head_dim)."""
    return (x * cos + _rotate_half(x) * sin).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = args.n_heads, args.n_kv_heads, args.head_dim
        self.q_proj = nn.Linear(args.dim, args.n_heads * self.head_dim, bias=args.qkv_bias)
        self.k_proj = nn.Linear(args.dim, args.n_kv_heads * self.head_dim, bias=args.qkv_bias)
        self.v_proj = nn.Linear(args.dim, args.n_kv_heads * self.head_dim, bias=args.qkv_bias)
        self.o_proj = nn.Linear(args.n_heads * self.head_dim, args.dim, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        kv_cache: KVCache | None = None,
    ) -> torch.Tensor:
        bsz, seqlen, _ = x.shape
        q = self.q_proj(x).view(bsz, seqlen, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(bsz, seqlen, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(bsz, seqlen, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        mask, is_causal = None, True
        if kv_cache is not None:
            past = kv_cache.length
            k, v = kv_cache.update(k, v)
            if past:
                # SDPA's is_causal aligns the mask top-left; with a cache the new queries sit at the end.
                is_causal = False
                if seqlen > 1:
                    pos = torch.arange(k.shape[2], device=x.device)
                    mask = pos[None, :] <= (past + torch.arange(seqlen, device=x.device))[:, None]
        # GQA: SDPA's enable_gqa broadcasts KV heads without materialising repeated copies.
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=is_causal, enable_gqa=self.n_kv_heads != self.n_heads
        )
        return self.o_proj(out.transpose(1, 2).reshape(bsz, seqlen, -1))


class KVCache:
    """Per-layer key/value cache for incremental decoding (generation only, never in training)."""

    def __init__(self) -> None:
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    @property
    def length(self) -> int:
        return 0 if self.k is None else self.k.shape[2]

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.k = k if self.k is None else torch.cat([self.k, k], dim=2)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=2)
        return self.k, self.v


class FeedForward(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(args.dim, args.ffn_dim, bias=False)
        self.up_proj = nn.Linear(args.dim, args.ffn_dim, bias=False)
        self.down_proj = nn.Linear(args.ffn_dim, args.dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(args.dim, args.norm_eps)
        self.self_attn = Attention(args)
        self.post_attention_layernorm = RMSNorm(args.dim, args.norm_eps)
        self.mlp = FeedForward(args)

    def forward(self, x, cos, sin, kv_cache: KVCache | None = None) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, kv_cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class OutputHead(nn.Linear):
    """The lm_head. Given targets it returns the chunked cross-entropy instead of logits.

    Going through the module call (not reading ``.weight`` from outside) keeps ZeRO-3's gather hooks
    working; the parameter is still ``lm_head.weight``, as in Hugging Face Llama.
    """

    def forward(
        self, x: torch.Tensor, targets: torch.Tensor | None = None, chunk_size: int = 0, ignore_index: int = IGNORE_INDEX
    ) -> torch.Tensor:
        if targets is None:
            return super().forward(x)
        return linear_cross_entropy(x, self.weight, targets, chunk_size, ignore_index)


class Transformer(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.args = args
        # Performance options (train.perf.apply_model_options sets them from cfg.perf); the defaults
        # are the plain path: full-logits loss, no activation checkpointing, SDPA picks its backend.
        self.loss_chunk_size = 0
        self.checkpoint_every = 0
        self.sdpa_backend = "auto"
        self.embed_tokens = nn.Embedding(args.vocab_size, args.dim)
        self.layers = nn.ModuleList(Block(args) for _ in range(args.n_layers))
        self.norm = RMSNorm(args.dim, args.norm_eps)
        self.lm_head = OutputHead(args.dim, args.vocab_size, bias=False)
        if args.tie_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        cos, sin = rope_tables(args.head_dim, args.max_seq_len, args.rope_theta)
        # Non-persistent: derived from the config, so checkpoints stay small and shape-agnostic.
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        # GPT-2 style: scale residual-output projections by depth so activations do not grow with layers.
        for name, param in self.named_parameters():
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(param, mean=0.0, std=args.init_std / math.sqrt(2 * args.n_layers))

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=self.args.init_std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def hidden_states(
        self, tokens: torch.Tensor, kv_caches: list[KVCache] | None = None
    ) -> torch.Tensor:
        """Final-norm hidden states (batch, seq, dim); the loss head consumes these."""
        seqlen = tokens.shape[1]
        start = kv_caches[0].length if kv_caches else 0
        if start + seqlen > self.args.max_seq_len:
            raise ValueError(f"sequence of {start + seqlen} tokens exceeds max_seq_len={self.args.max_seq_len}")
        cos = self.rope_cos[start : start + seqlen].to(self.embed_tokens.weight.dtype)
        sin = self.rope_sin[start : start + seqlen].to(self.embed_tokens.weight.dtype)
        x = self.embed_tokens(tokens)
        with sdpa_backend(self.sdpa_backend):
            for i, layer in enumerate(self.layers):
                cache = kv_caches[i] if kv_caches else None
                if cache is None and self._checkpointed(i):
                    x = checkpoint(layer, x, cos, sin, use_reentrant=False, **self._recompute_context())
                else:
                    x = layer(x, cos, sin, cache)
        return self.norm(x)

    def _checkpointed(self, layer_index: int) -> bool:
        """Selective activation checkpointing: every ``checkpoint_every``-th block, training only."""
        every = self.checkpoint_every
        return every > 0 and layer_index % every == 0 and self.training and torch.is_grad_enabled()

    def _recompute_context(self) -> dict:
        if self.sdpa_backend == "auto":
            return {}
        # The recomputation runs in backward, outside our sdpa_backend block: pin the same backend there.
        name = self.sdpa_backend
        return {"context_fn": lambda: (sdpa_backend(name), sdpa_backend(name))}

    def forward(
        self,
        tokens: torch.Tensor,
        kv_caches: list[KVCache] | None = None,
        targets: torch.Tensor | None = None,
        ignore_index: int = IGNORE_INDEX,
    ) -> torch.Tensor:
        """Logits (batch, seq, vocab); with ``targets``, the mean next-token loss instead (see ``loss``).

        The loss lives in forward so that a DeepSpeed engine call (and ``engine.compile()``, which
        compiles forward) covers the whole step: ``loss = engine(tokens, targets=targets)``.
        """
        hidden = self.hidden_states(tokens, kv_caches)
        if targets is None:
            return self.lm_head(hidden)
        if self.loss_chunk_size > 0:
            return self.lm_head(hidden, targets, self.loss_chunk_size, ignore_index)
        logits = self.lm_head(hidden)
        # fp32 softmax for stability under bf16.
        return F.cross_entropy(
            logits.float().view(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=ignore_index
        )

    def loss(self, tokens: torch.Tensor, targets: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
        """Mean next-token cross-entropy. With ``loss_chunk_size`` > 0 the full logits never exist."""
        return self.forward(tokens, targets=targets, ignore_index=ignore_index)

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameter count; non-embedding excludes the token embedding and output head (MFU formula)."""
        total = sum(p.numel() for p in self.parameters())
        if non_embedding:
            total -= self.embed_tokens.weight.numel()
            if not self.args.tie_embeddings:
                total -= self.lm_head.weight.numel()
        return total
