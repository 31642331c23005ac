"""Causal softmax attention with rotary positions: the Transformer baseline of P1 Table 3.

Same three-stage contract as the recurrent mixers (:mod:`statetrack.models.mixers`), so a block
and the batched trainer treat every mixer alike:

* :meth:`Attention.project`: ``x [B, T, d_model]`` -> q, k, v ``[B, T, H, K]`` (rotary positions
  applied to q and k);
* :meth:`Attention.recur`: causal ``softmax(q k^T / sqrt K) v`` -> ``o [B, T, H, K]`` (no parameters);
* :meth:`Attention.readout`: ``o`` -> ``[B, T, d_model]``.

It has no state to carry, so ``return_state`` gives ``None`` and it has no eigenvalues.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def rotary(x: torch.Tensor, base: float = 10_000.0) -> torch.Tensor:
    """Rotate feature pairs of ``x [B, T, H, K]`` (K even) by position-dependent angles (RoPE)."""
    B, T, H, K = x.shape
    half = K // 2
    inv = base ** (-torch.arange(half, device=x.device, dtype=torch.float32) / half)     # (K/2,)
    ang = torch.arange(T, device=x.device, dtype=torch.float32)[:, None] * inv          # (T, K/2)
    cos, sin = ang.cos()[None, :, None, :], ang.sin()[None, :, None, :]                  # (1, T, 1, K/2)
    x1, x2 = x[..., :half].float(), x[..., half:2 * half].float()
    out = torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).to(x.dtype)
    return out if 2 * half == K else torch.cat([out, x[..., 2 * half:]], dim=-1)


class Attention(nn.Module):
    """Multi-head causal self-attention (RoPE), ``[B, T, d_model] -> [B, T, d_model]``."""

    def __init__(self, d_model: int, n_heads: int, head_dim: int, *, backend: str = "naive", **_unused):
        super().__init__()
        self.d_model, self.H, self.K = d_model, n_heads, head_dim
        self.backend = backend           # kept for a uniform interface; attention needs no kernel choice
        self.qkv = nn.Linear(d_model, 3 * n_heads * head_dim, bias=False)
        self.o_proj = nn.Linear(n_heads * head_dim, d_model, bias=False)

    packs = False       # no packed words: attention would need a mask per word and positions per word

    def project(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """q, k, v ``[B, T, H, K]`` from ``x [B, T, d_model]``."""
        B, T, _ = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.H, self.K).unbind(2)
        return {"q": rotary(q), "k": rotary(k), "v": v}

    def recur(self, p: dict[str, torch.Tensor], initial_state=None, output_final_state: bool = False):
        """``o [B, T, H, K]`` (and None: attention carries no recurrent state)."""
        q, k, v = (p[n].transpose(1, 2) for n in ("q", "k", "v"))                        # (B, H, T, K)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return o.transpose(1, 2), None

    def readout(self, o: torch.Tensor) -> torch.Tensor:
        B, T = o.shape[:2]
        return self.o_proj(o.reshape(B, T, self.H * self.K))

    def forward(self, x: torch.Tensor, initial_state=None, return_state: bool = False):
        o, _ = self.recur(self.project(x))
        y = self.readout(o)
        return (y, None) if return_state else y
