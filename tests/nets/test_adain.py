from __future__ import annotations

import math

import pytest
import torch

from zoo_core.nets.adain import AdaIN, adaptive_instance_norm, channel_mean_std, instance_norm


def test_channel_mean_std_is_biased_with_eps_under_sqrt() -> None:
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2)
    mean, std = channel_mean_std(x, eps=0.75)
    # mean 2.5, biased variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25, std = sqrt(1.25 + 0.75)
    assert mean.shape == (1, 1, 1, 1)
    assert mean.item() == pytest.approx(2.5)
    assert std.item() == pytest.approx(math.sqrt(2.0))


def test_channel_mean_std_rejects_vectors() -> None:
    with pytest.raises(ValueError, match="spatial"):
        channel_mean_std(torch.zeros(2, 3))


def test_instance_norm_standardises_each_sample_and_channel() -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 4, 8, 8) * torch.tensor([0.5, 2.0, 7.0, 1.0]).view(1, 4, 1, 1) + 3.0
    y = instance_norm(x, eps=0.0)
    assert torch.allclose(y.mean(dim=(2, 3)), torch.zeros(3, 4), atol=1e-5)
    assert torch.allclose(y.var(dim=(2, 3), unbiased=False), torch.ones(3, 4), atol=1e-4)


def test_adaptive_instance_norm_hand_computed() -> None:
    content = torch.tensor([0.0, 2.0, 4.0, 6.0]).reshape(1, 1, 2, 2)
    # content mean 3, biased variance (9 + 1 + 1 + 9) / 4 = 5
    out = adaptive_instance_norm(content, torch.tensor([[10.0]]), torch.tensor([[2.0]]), eps=0.0)
    expected = 10.0 + 2.0 * torch.tensor([-3.0, -1.0, 1.0, 3.0]) / math.sqrt(5.0)
    assert torch.allclose(out.flatten(), expected, atol=1e-6)


def test_adaptive_instance_norm_transfers_style_statistics() -> None:
    torch.manual_seed(1)
    content = torch.randn(2, 3, 16, 16) * 4.0 - 1.0
    style = torch.randn(2, 3, 8, 8) * 0.3 + 5.0
    style_mean, style_std = channel_mean_std(style, eps=0.0)
    out = adaptive_instance_norm(content, style_mean, style_std, eps=0.0)
    out_mean, out_std = channel_mean_std(out, eps=0.0)
    assert torch.allclose(out_mean, style_mean, atol=1e-4)
    assert torch.allclose(out_std, style_std, atol=1e-4)
    flat = adaptive_instance_norm(content, style_mean.flatten(1), style_std.flatten(1), eps=0.0)
    assert torch.allclose(flat, out)


def test_adain_parameter_names_match_simswap_apply_style() -> None:
    layer = AdaIN(latent_size=16, channels=6)
    shapes = {k: tuple(v.shape) for k, v in layer.state_dict().items()}
    # SimSwap's ApplyStyle: self.linear = nn.Linear(latent_size, channels * 2)
    assert shapes == {"linear.weight": (12, 16), "linear.bias": (12,)}


def test_adain_first_half_is_scale_second_half_is_bias() -> None:
    torch.manual_seed(2)
    channels = 3
    layer = AdaIN(latent_size=4, channels=channels)
    with torch.no_grad():
        layer.linear.weight.zero_()
        layer.linear.bias.copy_(torch.tensor([0.5, -2.0, 1.0, 10.0, 20.0, 30.0]))
    x = torch.randn(2, channels, 5, 5)
    out = layer(x, torch.randn(2, 4))
    scale = torch.tensor([1.5, -1.0, 2.0]).view(1, channels, 1, 1)
    bias = torch.tensor([10.0, 20.0, 30.0]).view(1, channels, 1, 1)
    assert torch.allclose(out, instance_norm(x, eps=1e-8) * scale + bias, atol=1e-5)


def _simswap_reference(x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """SimSwap's InstanceNorm (eps 1e-8) then ApplyStyle, restated from its equations."""
    centred = x - x.mean(dim=(2, 3), keepdim=True)
    normed = centred * torch.rsqrt(centred.pow(2).mean(dim=(2, 3), keepdim=True) + 1e-8)
    style = style.view(-1, 2, x.shape[1], 1, 1)
    return normed * (style[:, 0] + 1.0) + style[:, 1]


def test_adain_matches_simswap_formula_with_random_weights() -> None:
    torch.manual_seed(3)
    layer = AdaIN(latent_size=8, channels=5)
    x, latent = torch.randn(4, 5, 6, 6) * 3.0 + 1.0, torch.randn(4, 8)
    expected = _simswap_reference(x, layer.linear(latent))
    assert torch.allclose(layer(x, latent), expected, atol=1e-5)


def test_adain_with_zero_style_is_plain_instance_norm() -> None:
    layer = AdaIN(latent_size=4, channels=2)
    torch.nn.init.zeros_(layer.linear.weight)
    torch.nn.init.zeros_(layer.linear.bias)
    x = torch.randn(2, 2, 4, 4)
    assert torch.allclose(layer(x, torch.randn(2, 4)), instance_norm(x, eps=1e-8))


def test_adain_gradients_reach_input_and_linear() -> None:
    layer = AdaIN(latent_size=4, channels=2)
    x = torch.randn(2, 2, 4, 4, requires_grad=True)
    latent = torch.randn(2, 4, requires_grad=True)
    (layer(x, latent) * torch.randn(2, 2, 4, 4)).sum().backward()
    for grad in (x.grad, latent.grad, layer.linear.weight.grad, layer.linear.bias.grad):
        assert grad is not None and grad.abs().sum() > 0


def test_adain_rejects_wrong_channel_count() -> None:
    with pytest.raises(ValueError, match="3 channels"):
        AdaIN(latent_size=4, channels=3)(torch.randn(1, 2, 4, 4), torch.randn(1, 4))
