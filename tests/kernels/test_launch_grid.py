"""Every kernel launch fits a CUDA grid: up to 2**31 - 1 programs on axis 0, 65,535 on axes 1 and 2.

The interpreter enforces neither limit, and an H100 answered "invalid argument" when B * H = 72,000
(compiled S5: 14,400 words x 5 heads) sat on axis 1. Here launches are recorded, not executed, so a
batch past the axis-1 limit costs nothing; the outputs are garbage and are not looked at.
"""
import pytest
import torch

from statetrack.kernels import delta_product, delta_rule, diagonal

AXIS_LIMITS = (2**31 - 1, 65_535, 65_535)


@pytest.fixture
def launches(monkeypatch):
    """Grids of every Triton launch in the test, with the kernels not run."""
    interpreter = pytest.importorskip("triton.runtime.interpreter")
    if not hasattr(interpreter, "InterpretedFunction"):
        pytest.skip("this Triton has no interpreter to intercept")
    seen = []

    def record(self, *args, grid, warmup, **kwargs):
        seen.append((self.fn.__name__, tuple(grid(kwargs) if callable(grid) else grid)))

    monkeypatch.setattr(interpreter.InterpretedFunction, "run", record)
    return seen


@pytest.mark.skipif(torch.cuda.is_available(), reason="launches are intercepted under TRITON_INTERPRET=1 only")
@pytest.mark.parametrize("backend", ["fused_recurrent", "chunk"])
@pytest.mark.parametrize("op", ["delta_rule", "delta_product", "diagonal"])
def test_batch_times_heads_past_axis_1_limit(op, backend, launches):
    B, T, H, K = 36_000, 2, 2, 16                      # B * H = 72,000 > 65,535
    fn = {"delta_rule": delta_rule, "delta_product": delta_product, "diagonal": diagonal}[op]
    q = torch.zeros(B, T, H, K, requires_grad=True)
    if op == "delta_product":
        k, v = torch.zeros(B, T, 2, H, K), torch.zeros(B, T, 2, H, K)
        gate = torch.zeros(B, T, 2, H)
    else:
        k, v = torch.zeros(B, T, H, K), torch.zeros(B, T, H, K)
        gate = torch.zeros(B, T, H, K) if op == "diagonal" else torch.zeros(B, T, H)
    o, _ = fn(q, k, v, gate, backend=backend)
    o.sum().backward()
    assert launches, "no Triton launch was intercepted"
    assert any(name.endswith("bwd_kernel") for name, _ in launches), launches
    for name, grid in launches:
        assert all(n <= lim for n, lim in zip(grid, AXIS_LIMITS)), f"{name} grid {grid} exceeds CUDA limits"


def test_host_cdiv_and_next_pow2_agree_with_tritons_on_every_size_the_launchers_pass():
    """The launchers size tiles and grids with _common's cdiv / next_pow2 (Triton's constexpr functions cost
    ~14 us a host call); they must give Triton's answers for every size >= 1 a launcher passes."""
    triton = pytest.importorskip("triton")
    from statetrack.kernels._common import cdiv, next_pow2
    assert all(next_pow2(n) == triton.next_power_of_2(n) for n in range(1, 70_000))
    assert all(cdiv(a, b) == triton.cdiv(a, b) for a in range(0, 1_100) for b in (1, 2, 3, 16, 32, 63, 64, 128))
