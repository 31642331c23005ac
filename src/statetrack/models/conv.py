"""The short causal convolution DeltaNet and Mamba layers put before their recurrence.

Depthwise (one filter per channel) over time, kernel 4, left-padded with zeros so position t sees
positions t-3..t only; followed by SiLU as in DeltaNet (fla's ``ShortConvolution``). Besides
local smoothing it hands a layer the previous positions' inputs: the compiled Krohn–Rhodes
models rely on exactly that to read the lower layers' states *before* each letter (P1 Thm 4).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class ShortConv(nn.Module):
    """Causal depthwise conv: ``[B, T, C] -> [B, T, C]``, ``y_t = act(sum_j w_j x_{t-size+1+j})``."""

    def __init__(self, channels: int, size: int = 4, activation: bool = True):
        super().__init__()
        self.size, self.activation = size, activation
        self.weight = nn.Parameter(torch.empty(channels, 1, size))   # (C, 1, size)
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None = None) -> torch.Tensor:
        """``pos`` (int ``[T]``, packed words: each slot's position in its word) keeps a word from
        reading the one before it: a copy shifted by s counts only where ``pos >= s``."""
        # A sum of `size` shifted copies rather than F.conv1d(groups=C): the same arithmetic, but
        # elementwise, so it stays fast under bf16 autocast and under torch.func.vmap with one filter
        # bank per run (a depthwise cuDNN convolution with R*C groups was the slowest op of a step).
        T = x.shape[1]
        xp = F.pad(x, (0, 0, self.size - 1, 0))                        # (B, T + size - 1, C)
        w = self.weight[:, 0, :].to(x.dtype)                           # (C, size)
        y = xp[:, 0:T] * w[:, 0]
        if pos is not None:
            y = y * (pos >= self.size - 1)[:, None].to(x.dtype)
        for j in range(1, self.size):
            term = xp[:, j:j + T] * w[:, j]                            # (B, T, C), shift size - 1 - j
            if pos is not None and j < self.size - 1:
                term = term * (pos >= self.size - 1 - j)[:, None].to(x.dtype)
            y = y + term
        return F.silu(y) if self.activation else y
