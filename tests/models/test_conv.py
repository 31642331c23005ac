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


@pytest.mark.parametrize("size", [4, 2, 1])
def test_packed_words_are_convolved_one_by_one(size):
    """With ``pos`` (each slot's position in its word) a packed row convolves each word as if alone."""
    torch.manual_seed(1)
    conv = ShortConv(6, size).double()
    lengths = [1, 3, 5, 2]
    x = torch.randn(1, sum(lengths), 6, dtype=torch.float64)
    pos = torch.cat([torch.arange(n) for n in lengths])
    words = torch.cat([conv(w) for w in x.split(lengths, dim=1)], dim=1)
    torch.testing.assert_close(conv(x, pos), words, rtol=1e-12, atol=1e-12)
    if size > 1:
        assert (conv(x) - words).abs().max() > 1e-3                     # without pos, words leak
