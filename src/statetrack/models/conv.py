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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[1]
        y = F.conv1d(x.transpose(1, 2), self.weight, padding=self.size - 1, groups=x.shape[2])[..., :T]
        y = y.transpose(1, 2)                                          # (B, T, C)
        return F.silu(y) if self.activation else y
