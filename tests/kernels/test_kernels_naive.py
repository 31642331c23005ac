"""The float64 loops are the ground truth for every kernel, so they are checked against independent
formulations first: explicit transition matrices, and special cases with closed forms."""
import pytest
import torch
import torch.nn.functional as F

from statetrack.kernels import KernelArgumentError, delta_product, delta_rule, diagonal

D = torch.float64


def _explicit_householder(q, k, v, beta, scale, S):
    """S_t = A_t S_{t-1} + B_t with the K x K matrix A_t = I - beta k k^T built explicitly."""
    B, T, H, K = q.shape
    eye = torch.eye(K, dtype=D)
    out = []
    for t in range(T):
        kt = k[:, t]
        A = eye - beta[:, t, :, None, None] * kt[..., :, None] * kt[..., None, :]
        S = A @ S + beta[:, t, :, None, None] * kt[..., :, None] * v[:, t][..., None, :]
        out.append(scale * (S.transpose(-1, -2) @ q[:, t][..., None])[..., 0])
    return torch.stack(out, 1), S


def test_delta_rule_matches_explicit_transition_matrices():
    g = torch.Generator().manual_seed(0)
    B, T, H, K, V = 2, 7, 3, 5, 4
    q = torch.randn(B, T, H, K, dtype=D, generator=g)
    k = F.normalize(torch.randn(B, T, H, K, dtype=D, generator=g), dim=-1)
    v = torch.randn(B, T, H, V, dtype=D, generator=g)
    beta = 2 * torch.rand(B, T, H, dtype=D, generator=g)
    h0 = torch.randn(B, H, K, V, dtype=D, generator=g)
    o, S = delta_rule(q, k, v, beta, scale=0.7, initial_state=h0, output_final_state=True, backend="naive")
    o_ref, S_ref = _explicit_householder(q, k, v, beta, 0.7, h0)
    torch.testing.assert_close(o, o_ref)
    torch.testing.assert_close(S, S_ref)


def test_beta_two_is_a_reflection_that_preserves_the_state_norm():
    g = torch.Generator().manual_seed(1)
    B, T, H, K = 1, 50, 2, 6
    k = F.normalize(torch.randn(B, T, H, K, dtype=D, generator=g), dim=-1)
    h0 = torch.randn(B, H, K, K, dtype=D, generator=g)
    zeros = torch.zeros(B, T, H, K, dtype=D)
    _, S = delta_rule(zeros, k, zeros, torch.full((B, T, H), 2.0, dtype=D), initial_state=h0,
                      output_final_state=True, backend="naive")
    torch.testing.assert_close(S.flatten(2).norm(dim=-1), h0.flatten(2).norm(dim=-1))


def test_delta_product_with_one_substep_is_the_delta_rule():
    g = torch.Generator().manual_seed(2)
    B, T, H, K = 2, 6, 2, 4
    q, k, v = (torch.randn(B, T, H, K, dtype=D, generator=g) for _ in range(3))
    beta = 2 * torch.rand(B, T, H, dtype=D, generator=g)
    o1, S1 = delta_rule(q, k, v, beta, output_final_state=True, backend="naive")
    o2, S2 = delta_product(q, k[:, :, None], v[:, :, None], beta[:, :, None], output_final_state=True,
                           backend="naive")
    torch.testing.assert_close(o1, o2)
    torch.testing.assert_close(S1, S2)


def test_delta_product_is_the_delta_rule_on_the_interleaved_sequence():
    g = torch.Generator().manual_seed(3)
    B, T, n_h, H, K = 2, 5, 3, 2, 4
    q = torch.randn(B, T, H, K, dtype=D, generator=g)
    k, v = (torch.randn(B, T, n_h, H, K, dtype=D, generator=g) for _ in range(2))
    beta = 2 * torch.rand(B, T, n_h, H, dtype=D, generator=g)
    o, S = delta_product(q, k, v, beta, output_final_state=True, backend="naive")
    # the same recurrence on T * n_h steps, with q placed on each token's last sub-step
    q_long = torch.zeros(B, T, n_h, H, K, dtype=D)
    q_long[:, :, -1] = q
    o_long, S_long = delta_rule(q_long.flatten(1, 2), k.flatten(1, 2), v.flatten(1, 2), beta.flatten(1, 2),
                                output_final_state=True, backend="naive")
    torch.testing.assert_close(o, o_long.view(B, T, n_h, H, K)[:, :, -1])
    torch.testing.assert_close(S, S_long)


def test_diagonal_with_unit_decay_is_causal_linear_attention():
    g = torch.Generator().manual_seed(4)
    B, T, H, K = 2, 9, 2, 3
    q, k, v = (torch.randn(B, T, H, K, dtype=D, generator=g) for _ in range(3))
    o, _ = diagonal(q, k, v, torch.ones(B, T, H, K, dtype=D), scale=1.0, backend="naive")
    scores = torch.einsum("bthk,bshk->bhts", q, k).tril()
    torch.testing.assert_close(o, torch.einsum("bhts,bshv->bthv", scores, v))


def test_diagonal_minus_one_alternates_and_zero_resets():
    B, T, H, K = 1, 6, 1, 1
    one = torch.ones(B, T, H, K, dtype=D)
    _, S = diagonal(one, torch.zeros_like(one), one, -one, initial_state=torch.ones(1, 1, 1, 1, dtype=D),
                    output_final_state=True, backend="naive")
    assert S.item() == 1.0  # (-1)^6
    a = -one.clone()
    a[:, 3] = 0.0
    _, S = diagonal(one, one, one, a, output_final_state=True, backend="naive")
    # S: 1, 0, 1, then a=0 resets it to k v = 1 at t=3, then 0, 1
    assert S.item() == 1.0


def test_output_dtype_follows_input_and_state_is_float32():
    x = torch.randn(1, 3, 1, 4, dtype=torch.bfloat16)
    o, S = delta_rule(x, x, x, torch.rand(1, 3, 1), output_final_state=True, backend="naive")
    assert o.dtype == torch.bfloat16 and S.dtype == torch.float32


@pytest.mark.parametrize(
    "kwargs, message",
    [
        pytest.param(dict(backend="cuda"), "unknown backend", id="backend"),
        pytest.param(dict(beta=torch.rand(1, 3, 2)), "beta has shape", id="beta-shape"),
        pytest.param(dict(v=torch.randn(1, 3, 1, 4, dtype=torch.float64)), "dtype", id="mixed-dtype"),
        pytest.param(dict(initial_state=torch.zeros(1, 1, 4, 5)), "initial_state has shape", id="h0-shape"),
    ],
)
def test_bad_arguments_raise_a_named_error(kwargs, message):
    x = torch.randn(1, 3, 1, 4)
    args = dict(q=x, k=x, v=x, beta=torch.rand(1, 3, 1), backend="naive")
    args.update(kwargs)
    with pytest.raises(KernelArgumentError, match=message):
        delta_rule(**args)
