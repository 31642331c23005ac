"""P1's DeltaNet as fla builds it: the gated (SwiGLU) MLP and fla's initialization, as model options."""
import math

import pytest
import torch

from statetrack.models.lrnn import LRNN, ModelConfig, ModelError


def test_swiglu_mlp_is_flas_gated_mlp():
    cfg = ModelConfig(kind="deltanet", d_model=128, n_heads=4, mlp="swiglu", vocab_size=3, n_classes=2)
    mlp = LRNN(cfg).blocks[0].mlp
    assert mlp.gate_proj.weight.shape == (2 * 512, 128) and mlp.down_proj.weight.shape == (128, 512)
    assert mlp.gate_proj.bias is None and mlp.down_proj.bias is None
    x = torch.randn(2, 5, 128)
    gate, up = (x @ mlp.gate_proj.weight.T).chunk(2, dim=-1)
    ref = (gate * torch.sigmoid(gate) * up) @ mlp.down_proj.weight.T
    torch.testing.assert_close(mlp(x), ref, rtol=1e-5, atol=1e-5)


def test_fla_init_statistics():
    """normal(0, 0.02) weights, zero biases, the residual writers scaled by 1/sqrt(2 layers)."""
    torch.manual_seed(0)
    cfg = ModelConfig(kind="deltanet", d_model=128, n_heads=4, n_layers=2, mlp="swiglu", init="fla",
                      vocab_size=3, n_classes=2)
    m = LRNN(cfg)
    w = m.blocks[0].mixer.q_proj.weight
    assert abs(float(w.std()) - 0.02) < 0.002 and abs(float(w.mean())) < 0.001
    o = m.blocks[1].mixer.o_proj.weight
    assert abs(float(o.std()) - 0.02 / math.sqrt(4)) < 0.001
    d = m.blocks[0].mlp.down_proj.weight
    assert abs(float(d.std()) - 0.01) < 0.001
    assert float(m.head.bias.abs().max()) == 0 and abs(float(m.embed.weight.std()) - 0.02) < 0.01
    conv = m.blocks[0].mixer.convs[0].weight
    assert abs(float(conv.std()) - 0.02) < 0.003
    default = LRNN(ModelConfig(kind="deltanet", d_model=128, n_heads=4, vocab_size=3, n_classes=2))
    assert float(default.blocks[0].mixer.q_proj.weight.std()) > 0.04          # PyTorch's default is wider


def test_p1_init_is_the_init_of_p1s_code():
    """P1's fork of fla: the mixer's linears xavier-uniform with gain 2^-2.5 (o_proj not rescaled), the
    convolutions at PyTorch's default, the rest normal(0, 0.02) with the MLP's last layer / sqrt(2 L)."""
    torch.manual_seed(0)
    cfg = ModelConfig(kind="deltanet", d_model=128, n_heads=4, n_layers=2, mlp="swiglu", init="p1",
                      vocab_size=3, n_classes=2)
    m = LRNN(cfg)
    xavier_std = 2 ** -2.5 * math.sqrt(2 / (128 + 128))                  # uniform(-a, a) with std gain*sqrt(2/fan)
    for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
        w = getattr(m.blocks[1].mixer, name).weight
        assert abs(float(w.std()) - xavier_std) < 0.1 * xavier_std, name
        assert float(w.abs().max()) <= math.sqrt(3) * xavier_std + 1e-6    # uniform, not normal
    b = m.blocks[0].mixer.b_proj.weight                                    # (4, 128): its own fans
    assert float(b.abs().max()) <= 2 ** -2.5 * math.sqrt(6 / 132) + 1e-6
    assert abs(float(m.blocks[0].mlp.gate_proj.weight.std()) - 0.02) < 0.002
    assert abs(float(m.blocks[0].mlp.down_proj.weight.std()) - 0.01) < 0.001
    assert abs(float(m.head.weight.std()) - 0.02) < 0.01 and float(m.head.bias.abs().max()) == 0
    conv = m.blocks[0].mixer.convs[0].weight                               # kaiming_uniform(a=sqrt 5): bound 1/sqrt(4)
    assert float(conv.abs().max()) > 0.4 and float(conv.abs().max()) <= 0.5
    with pytest.raises(ModelError, match="not one for 'transformer'"):
        ModelConfig(kind="transformer", init="p1")


def test_options_are_checked_and_round_trip():
    with pytest.raises(ModelError, match="unknown mlp"):
        ModelConfig(mlp="relu")
    with pytest.raises(ModelError, match="not one for 'diagonal'"):
        ModelConfig(kind="diagonal", init="fla")
    cfg = ModelConfig(kind="deltaproduct", n_h=2, mlp="swiglu", init="fla")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    old = cfg.to_dict()
    del old["mlp"], old["init"]                                           # configs written before the options
    assert ModelConfig.from_dict(old).mlp == "gelu" and ModelConfig.from_dict(old).init == "torch"
