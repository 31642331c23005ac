"""Learned mixers: the eigenvalue-range switch, key normalization, causality, backends, the twin loop."""
from __future__ import annotations

import importlib

import pytest
import torch

from statetrack.models import LRNN, DeltaNet, DeltaProduct, Diagonal, ModelConfig, ModelError, parse_eig_range
from statetrack.models.generalized import generalized_delta_product

RANGES = [pytest.param("0,1", id="[0,1]"), pytest.param("-1,1", id="[-1,1]")]


def x_batch(d=16, T=12, seed=0):
    return torch.randn(3, T, d, generator=torch.Generator().manual_seed(seed)) * 3


@pytest.mark.parametrize("rng", RANGES)
@pytest.mark.parametrize("n_h", [pytest.param(1, id="deltanet"), pytest.param(3, id="deltaproduct3")])
def test_householder_eigenvalues_lie_in_range(rng, n_h):
    torch.manual_seed(0)
    mixer = DeltaProduct(16, 2, 8, n_h=n_h, eig_range=rng)
    with torch.no_grad():
        mixer.b_proj.weight.mul_(20)                        # push beta towards both ends of its range
    with torch.no_grad():
        p = mixer.project(x_batch())
    lo = 0.0 if rng == "0,1" else -1.0
    assert float(p["beta"].min()) >= 0 and float(p["beta"].max()) <= 1 - lo
    assert float(p["beta"].max()) > (0.9 if rng == "0,1" else 1.9)      # the range is actually used
    assert torch.allclose(p["k"].norm(dim=-1), torch.ones(()), atol=1e-5)
    A = mixer.transition_matrices(x_batch())                                  # (B, T, H, K, K)
    ev = torch.linalg.eigvals(A)
    if n_h == 1:     # one GH factor: real eigenvalues 1 and 1 - beta
        assert float(ev.imag.abs().max()) < 1e-5
        assert float(ev.real.min()) >= lo - 1e-5 and float(ev.real.max()) <= 1 + 1e-5
    assert float(torch.linalg.matrix_norm(A, ord=2).max()) <= 1 + 1e-5      # P1 Prop 1a


def test_negative_range_reaches_negative_eigenvalues_only_when_allowed():
    torch.manual_seed(0)
    neg, pos = DeltaNet(16, 2, 8, eig_range="-1,1"), DeltaNet(16, 2, 8, eig_range="0,1")
    pos.load_state_dict(neg.state_dict())
    for m in (neg, pos):
        with torch.no_grad():
            m.b_proj.weight.mul_(20)
    ev_neg = torch.linalg.eigvals(neg.transition_matrices(x_batch())).real
    ev_pos = torch.linalg.eigvals(pos.transition_matrices(x_batch())).real
    assert float(ev_neg.min()) < -0.5 and float(ev_pos.min()) >= -1e-5


@pytest.mark.parametrize("rng", RANGES)
def test_diagonal_decays_lie_in_range(rng):
    torch.manual_seed(0)
    mixer = Diagonal(16, 2, 8, eig_range=rng)
    with torch.no_grad():
        mixer.dt_proj.weight.mul_(30)
    a = mixer.transition_eigenvalues(x_batch())
    lo = 0.0 if rng == "0,1" else -1.0
    assert float(a.min()) >= lo and float(a.max()) <= 1.0
    assert float(a.min()) < lo + 0.05                    # the negative end is reachable for [-1,1]


@pytest.mark.parametrize("kind,n_h", [pytest.param("deltanet", 1, id="deltanet"),
                                      pytest.param("deltaproduct", 2, id="deltaproduct2"),
                                      pytest.param("diagonal", 1, id="diagonal")])
def test_lrnn_is_causal_and_shaped(kind, n_h):
    torch.manual_seed(0)
    model = LRNN(ModelConfig(kind=kind, n_h=n_h, d_model=16, n_heads=2, vocab_size=3, n_classes=5))
    x = torch.randint(0, 3, (2, 10))
    y = model(x)
    assert y.shape == (2, 10, 5)
    x2 = x.clone()
    x2[:, 6:] = (x2[:, 6:] + 1) % 3                     # change the future
    y2 = model(x2)
    assert torch.allclose(y[:, :6], y2[:, :6], atol=1e-6) and not torch.allclose(y[:, 6:], y2[:, 6:])
    states = model.final_states(x)
    assert len(states) == 2 and states[0].shape == (2, 2, 8, 8)
    assert model.size()["params"] == sum(p.numel() for p in model.parameters())


def test_generalized_loop_equals_kernel_when_keys_are_symmetric():
    """The superset loop is the kernel's recurrence when w = u and there is no direct write."""
    from statetrack.kernels import delta_product

    g = torch.Generator().manual_seed(0)
    B, T, n_h, H, K = 2, 7, 3, 2, 4
    q = torch.randn(B, T, H, K, generator=g, dtype=torch.float64)
    k = torch.nn.functional.normalize(torch.randn(B, T, n_h, H, K, generator=g, dtype=torch.float64), dim=-1)
    v = torch.randn(B, T, n_h, H, K, generator=g, dtype=torch.float64)
    beta = 2 * torch.rand(B, T, n_h, H, generator=g, dtype=torch.float64)
    h0 = torch.randn(B, H, K, K, generator=g, dtype=torch.float64)
    o1, s1 = generalized_delta_product(q, k, v, beta, scale=0.5, initial_state=h0, output_final_state=True)
    o2, s2 = delta_product(q, k, v, beta, scale=0.5, initial_state=h0, output_final_state=True, backend="naive")
    assert torch.allclose(o1, o2, atol=1e-12) and torch.allclose(s1, s2, atol=1e-12)
    o3, _ = generalized_delta_product(q, k, v, beta, w=k.flip(-1), scale=0.5, initial_state=h0)
    assert not torch.allclose(o1, o3)                    # read keys do change the result


@pytest.mark.slow
@pytest.mark.parametrize("kind,n_h,op,backend", [
    pytest.param("deltanet", 1, "delta_rule", "fused_recurrent", id="deltanet-fused_recurrent"),
    pytest.param("deltaproduct", 2, "delta_product", "fused_recurrent", id="deltaproduct2-fused_recurrent"),
    pytest.param("diagonal", 1, "diagonal", "fused_recurrent", id="diagonal-fused_recurrent"),
    pytest.param("deltaproduct", 2, "delta_product", "chunk", id="deltaproduct2-chunk"),
])
def test_backends_agree_with_naive(kind, n_h, op, backend):
    importlib.import_module(f"statetrack.kernels.{op}.{backend}")
    """The model gives the same logits with the Triton backends (interpreter on CPU; the chunk kernels
    of all three ops run on the GPU in benchmarks/protocol_gpu.py and the kernels' own tests)."""
    torch.manual_seed(0)
    model = LRNN(ModelConfig(kind=kind, n_h=n_h, d_model=16, n_heads=2, n_layers=1, vocab_size=2, n_classes=2))
    x = torch.randint(0, 2, (2, 20))
    ref = model(x)
    model.set_backend(backend)
    assert torch.allclose(model(x), ref, atol=1e-4)


@pytest.mark.parametrize("text,expected", [pytest.param("[-1,1]", "-1,1", id="brackets"),
                                           pytest.param("-1, 1", "-1,1", id="space"),
                                           pytest.param("0,1", "0,1", id="plain")])
def test_parse_eig_range(text, expected):
    assert parse_eig_range(text) == expected


@pytest.mark.parametrize("kw,message", [
    pytest.param({"eig_range": "0,2"}, "eigenvalue range", id="bad_range"),
    pytest.param({"kind": "mamba"}, "unknown model", id="bad_kind"),
    pytest.param({"kind": "deltanet", "n_h": 2}, "deltanet has n_h = 1", id="deltanet_nh"),
    pytest.param({"backend": "cuda"}, "unknown kernel backend", id="bad_backend"),
    pytest.param({"d_model": 30, "n_heads": 4}, "not divisible", id="bad_heads"),
])
def test_model_config_errors(kw, message):
    with pytest.raises(ModelError, match=message):
        ModelConfig(**kw)


@pytest.mark.parametrize("device, fp32_policy", [
    pytest.param("cpu", False, id="cpu"),
    pytest.param("cpu", True, id="cpu-cuda-policy"),
    pytest.param("cuda", False, id="cuda", marks=pytest.mark.gpu)])
def test_recurrence_inputs_keep_the_autocast_dtype(device, fp32_policy, monkeypatch):
    """Under bf16 autocast the kernels get bf16 q, k, v, beta: CUDA autocast runs F.normalize in float32,
    which before this check handed float32 inputs to the kernels (the float32 chunk path, 5x the time of
    bf16 in the H200's gradient kernel). CPU autocast keeps bf16 there, so the ``cpu-cuda-policy`` case
    gives F.normalize CUDA's float32 policy (float32 out whatever goes in); the normalization itself still
    computes in float32."""
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    if fp32_policy:
        import torch.nn.functional as F

        normalize = F.normalize
        monkeypatch.setattr(F, "normalize", lambda x, *a, **kw: normalize(x.float(), *a, **kw))
    m = DeltaProduct(64, 2, 32, n_h=2, backend="naive").to(device)
    x = torch.randn(2, 10, 64, device=device)
    with torch.autocast(device, dtype=torch.bfloat16):
        p = m.project(x)
    assert {k: v.dtype for k, v in p.items()} == dict.fromkeys(("q", "k", "v", "beta"), torch.bfloat16)
    norms = p["k"].float().norm(dim=-1)
    torch.testing.assert_close(norms, torch.ones_like(norms), atol=8e-3, rtol=0)
