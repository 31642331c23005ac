"""The short convolution's shifted-sum form equals the depthwise convolution it replaces."""
import pytest
import torch
import torch.nn.functional as F

from statetrack.models.conv import ShortConv


@pytest.mark.parametrize("size,activation", [pytest.param(4, True, id="k4-silu"), pytest.param(3, False, id="k3-linear"),
                                             pytest.param(1, True, id="k1")])
def test_shifted_sum_equals_depthwise_conv1d(size, activation):
    torch.manual_seed(0)
    conv = ShortConv(10, size, activation=activation).double()
    x = torch.randn(3, 7, 10, dtype=torch.float64, requires_grad=True)
    ref = F.conv1d(x.transpose(1, 2), conv.weight, padding=size - 1, groups=10)[..., :7].transpose(1, 2)
    ref = F.silu(ref) if activation else ref
    torch.testing.assert_close(conv(x), ref, rtol=1e-12, atol=1e-12)
    g1 = torch.autograd.grad(conv(x).square().sum(), (x, conv.weight))
    g2 = torch.autograd.grad(ref.square().sum(), (x, conv.weight))
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
