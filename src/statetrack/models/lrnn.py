"""The LRNN classifier: embedding -> [norm, mixer, residual, norm, MLP, residual] x L -> norm -> head.

``LRNN(config)`` maps tokens ``[B, T]`` to logits ``[B, T, n_classes]`` (a class at every position).
The mixer is :class:`~statetrack.models.mixers.DeltaNet`, :class:`~statetrack.models.mixers.DeltaProduct`,
:class:`~statetrack.models.mixers.Diagonal` or, as the Transformer baseline,
:class:`~statetrack.models.attention.Attention` per ``config.kind``. Every mixer runs in three stages,
``project`` (parameters), ``recur`` (the kernel, no parameters) and ``readout`` (parameters); a block
exposes them as :meth:`Block.pre` and :meth:`Block.post` so that the batched trainer
(:mod:`statetrack.train.batched`) can run many models' kernels as one call.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from statetrack.models.mixers import (BACKENDS, DeltaNet, DeltaProduct, Diagonal, ModelError, check_backend,
                                      parse_eig_range)

KINDS = ("deltanet", "deltaproduct", "diagonal", "transformer")
MLPS = ("gelu", "swiglu")
INITS = ("torch", "fla", "p1")


@dataclass
class ModelConfig:
    kind: str = "deltanet"        # mixer: deltanet | deltaproduct | diagonal | transformer (causal attention)
    eig_range: str = "-1,1"       # transition eigenvalues: "0,1" (beta = sigmoid, a = s) or "-1,1" (2 sigmoid, 2s - 1)
    n_layers: int = 2             # blocks (mixer + MLP each)
    d_model: int = 128            # residual-stream width
    n_heads: int = 4              # heads per mixer
    head_dim: int = 0             # key/value size per head K = V; 0 -> d_model // n_heads
    n_h: int = 1                  # Householder sub-steps per token (deltaproduct only; deltanet is 1)
    conv_size: int = 4            # short causal convolution kernel on q/k/v (0: none)
    mlp_ratio: int = 4            # MLP hidden width = mlp_ratio * d_model (0: no MLP)
    mlp: str = "gelu"             # gelu: Linear-GELU-Linear with biases; swiglu: fla's gated MLP (P1's DeltaNet)
    init: str = "torch"           # torch: PyTorch's defaults; fla: fla's DeltaNet initialization; p1: P1's code
    backend: str = "naive"        # kernel backend: naive | fused_recurrent | chunk
    vocab_size: int = 2           # input tokens (set from the task)
    n_classes: int = 2            # output classes (set from the task)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ModelError(f"unknown model {self.kind!r}; choose from {', '.join(KINDS)}")
        self.eig_range = parse_eig_range(self.eig_range)
        check_backend(self.backend)
        if self.kind == "deltanet" and self.n_h != 1:
            raise ModelError("deltanet has n_h = 1", api_hint="use kind='deltaproduct' for n_h > 1",
                             cli_hint="use --model deltaproduct for n_h > 1")
        if self.mlp not in MLPS:
            raise ModelError(f"unknown mlp {self.mlp!r}; choose from {', '.join(MLPS)}")
        if self.init not in INITS:
            raise ModelError(f"unknown init {self.init!r}; choose from {', '.join(INITS)}")
        if self.init != "torch" and self.kind not in ("deltanet", "deltaproduct"):
            raise ModelError(f"init {self.init!r} is a DeltaNet/DeltaProduct initialization, not one for {self.kind!r}")
        for f in ("n_layers", "d_model", "n_heads", "n_h", "vocab_size", "n_classes"):
            if not isinstance(getattr(self, f), int) or getattr(self, f) < 1:
                raise ModelError(f"model {f} must be a positive integer, got {getattr(self, f)!r}")
        if not self.head_dim:
            if self.d_model % self.n_heads:
                raise ModelError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}; set head_dim")
            self.head_dim = self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ModelError(f"unknown model config field(s): {', '.join(sorted(unknown))}")
        return cls(**d)


def make_mixer(cfg: ModelConfig) -> nn.Module:
    common = dict(eig_range=cfg.eig_range, backend=cfg.backend, conv_size=cfg.conv_size)
    if cfg.kind == "transformer":
        from statetrack.models.attention import Attention

        return Attention(cfg.d_model, cfg.n_heads, cfg.head_dim, backend=cfg.backend)
    if cfg.kind == "diagonal":
        return Diagonal(cfg.d_model, cfg.n_heads, cfg.head_dim, **common)
    if cfg.kind == "deltanet":
        return DeltaNet(cfg.d_model, cfg.n_heads, cfg.head_dim, **common)
    return DeltaProduct(cfg.d_model, cfg.n_heads, cfg.head_dim, n_h=cfg.n_h, **common)


class SwiGLU(nn.Module):
    """fla's DeltaNet MLP (P1's models): ``down(silu(gate) * up)``, no biases; the hidden width is
    ``2/3 * ratio * d`` rounded up to a multiple of 256 (512 for d = 128, ratio 4)."""

    def __init__(self, d: int, ratio: int):
        super().__init__()
        width = 256 * math.ceil(int(d * ratio * 2 / 3) / 256)
        self.gate_proj = nn.Linear(d, 2 * width, bias=False)        # gate and up, side by side
        self.down_proj = nn.Linear(width, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)


def fla_init(model: nn.Module, n_layers: int, std: float = 0.02) -> None:
    """fla's initialization of its DeltaNet models: every linear, convolution and embedding weight
    normal(0, std), biases 0, and the two projections that write into the residual stream (the
    mixer's ``o_proj``, the MLP's last layer) divided by sqrt(2 n_layers)."""
    from statetrack.models.conv import ShortConv

    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, (nn.Linear, nn.Embedding, ShortConv)):
                m.weight.normal_(0.0, std)
                if getattr(m, "bias", None) is not None:
                    m.bias.zero_()
            if name.endswith(("o_proj", "down_proj", "mlp.2")):
                m.weight.div_(math.sqrt(2 * n_layers))


def p1_init(model: nn.Module, n_layers: int, std: float = 0.02) -> None:
    """The initialization P1's official code ends up with (its fork of fla, 2024): the mixer's own
    linears (q, k, v, beta, o) xavier-uniform with gain 2^-2.5, set when the layer is built and left
    alone by the model's pass; the short convolutions at PyTorch's default; every other linear and the
    embedding normal(0, std), biases 0, and the MLP's last layer divided by sqrt(2 n_layers) (the
    mixer's o_proj is not: the model's pass skips the layer)."""
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                if ".mixer." in f".{name}":
                    nn.init.xavier_uniform_(m.weight, gain=2 ** -2.5)
                else:
                    m.weight.normal_(0.0, std)
                    if name.endswith(("down_proj", "mlp.2")):
                        m.weight.div_(math.sqrt(2 * n_layers))
                if getattr(m, "bias", None) is not None:
                    m.bias.zero_()


class Block(nn.Module):
    """Pre-norm residual block: ``x + mixer(norm(x))``, then ``x + mlp(norm(x))``."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm1 = nn.RMSNorm(cfg.d_model, eps=1e-6)
        self.mixer = make_mixer(cfg)
        self.mlp = None
        if cfg.mlp_ratio:
            self.norm2 = nn.RMSNorm(cfg.d_model, eps=1e-6)
            self.mlp = SwiGLU(cfg.d_model, cfg.mlp_ratio) if cfg.mlp == "swiglu" else nn.Sequential(
                nn.Linear(cfg.d_model, cfg.mlp_ratio * cfg.d_model), nn.GELU(),
                nn.Linear(cfg.mlp_ratio * cfg.d_model, cfg.d_model))

    def pre(self, x: torch.Tensor, pos: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The mixer's recurrence inputs from the residual stream ``x [B, T, d_model]`` (``pos``: packed
        words' positions, for mixers that pack)."""
        if pos is None:
            return self.mixer.project(self.norm1(x))
        return self.mixer.project(self.norm1(x), pos)

    def post(self, x: torch.Tensor, o: torch.Tensor) -> torch.Tensor:
        """The residual stream after the block, from ``x`` and the recurrence output ``o [B, T, H, V]``."""
        x = x + self.mixer.readout(o)
        if self.mlp is not None:
            x = x + self.mlp(self.norm2(x))
        return x

    def forward(self, x: torch.Tensor, return_state: bool = False):
        o, S = self.mixer.recur(self.pre(x), output_final_state=return_state)
        x = self.post(x, o)
        return (x, S) if return_state else x


class LRNN(nn.Module):
    """Token classifier built from linear-RNN blocks (see the module docstring)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers)])
        self.norm = nn.RMSNorm(cfg.d_model, eps=1e-6)
        self.head = nn.Linear(cfg.d_model, cfg.n_classes)
        if cfg.init == "fla":
            fla_init(self, cfg.n_layers)
        elif cfg.init == "p1":
            p1_init(self, cfg.n_layers)

    def set_backend(self, backend: str) -> None:
        """Switch every mixer's kernel backend (e.g. ``naive`` on CPU for analysis)."""
        check_backend(backend)
        self.cfg.backend = backend
        for b in self.blocks:
            b.mixer.backend = backend

    def forward(self, inputs: torch.Tensor, return_hidden: bool = False):
        """tokens int64 ``[B, T]`` -> logits ``[B, T, n_classes]`` (and the residual stream after
        each block, a list of ``[B, T, d_model]``, with ``return_hidden``)."""
        x = self.embed(inputs)                                     # (B, T, D)
        hidden = []
        for block in self.blocks:
            x = block(x)
            hidden.append(x)
        logits = self.read(x)
        return (logits, hidden) if return_hidden else logits

    def read(self, x: torch.Tensor) -> torch.Tensor:
        """The classifier on the last residual stream: ``[B, T, d_model] -> [B, T, n_classes]``."""
        return self.head(self.norm(x))

    @torch.no_grad()
    def final_states(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        """Each layer's recurrent state after the last token: a list of ``[B, H, K, V]``."""
        x, states = self.embed(inputs), []
        for block in self.blocks:
            x, S = block(x, return_state=True)
            states.append(S)
        return states

    @torch.no_grad()
    def mixer_inputs(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        """The normalized input each layer's mixer sees: a list of ``[B, T, d_model]``."""
        x, out = self.embed(inputs), []
        for block in self.blocks:
            out.append(block.norm1(x))
            x = block(x)
        return out

    def size(self) -> dict:
        cfg = self.cfg
        return {"layers": cfg.n_layers, "heads": cfg.n_heads, "head_dim": cfg.head_dim, "d_model": cfg.d_model,
                "n_h": cfg.n_h, "params": int(sum(p.numel() for p in self.parameters()))}


__all__ = ["LRNN", "ModelConfig", "Block", "SwiGLU", "KINDS", "MLPS", "INITS", "BACKENDS", "make_mixer", "fla_init", "p1_init"]
