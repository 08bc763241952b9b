"""StyleGAN2 building block: shapes, latent spaces, noise, hooks, S space and the discriminator."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from zoo_core.hub import skip_weight_init
from zoo_core.nets.stylegan2 import StyleGAN2Config, StyleGAN2Discriminator, StyleGAN2Generator

TINY = StyleGAN2Config(size=32, style_dim=32, n_mlp=2, channels={4: 16, 8: 16, 16: 12, 32: 8})


@pytest.fixture(scope="module")
def generator() -> StyleGAN2Generator:
    torch.manual_seed(0)
    g = StyleGAN2Generator(TINY).eval()
    with torch.no_grad():  # non-zero noise strengths so that noise has a visible effect
        for name, p in g.named_parameters():
            if name.endswith("noise.weight"):
                p.fill_(0.3)
    return g


def test_layout_attributes(generator: StyleGAN2Generator) -> None:
    g = generator
    assert (g.n_latent, g.num_layers) == (8, 7)
    assert g.conv_resolutions == [4, 8, 8, 16, 16, 32, 32]
    assert g.conv_channels == [16, 16, 16, 12, 12, 8, 8]
    assert g.style_layers == [
        ("conv1", 4, 16), ("to_rgb1", 4, 16),
        ("convs.0", 8, 16), ("convs.1", 8, 16), ("to_rgbs.0", 8, 16),
        ("convs.2", 16, 16), ("convs.3", 16, 12), ("to_rgbs.1", 16, 12),
        ("convs.4", 32, 12), ("convs.5", 32, 8), ("to_rgbs.2", 32, 8),
    ]
    keys = set(g.state_dict())
    assert {"style.1.weight", "style.2.bias", "input.input", "conv1.conv.modulation.bias", "to_rgb1.bias",
            "convs.0.conv.blur.kernel", "to_rgbs.0.upsample.kernel", "noises.noise_6"} <= keys
    assert "style.3.weight" not in keys


@pytest.mark.real_config
def test_real_config_counts() -> None:
    for size, n_latent in ((256, 14), (1024, 18)):
        with skip_weight_init():
            g = StyleGAN2Generator(StyleGAN2Config(size=size))
        assert g.n_latent == n_latent and g.num_layers == n_latent - 1
        assert g.conv_resolutions[-1] == size and len(g.conv_resolutions) == g.num_layers
        assert len(g.style_layers) == g.num_layers + (n_latent // 2)


def test_mapping_and_mean_latent(generator: StyleGAN2Generator) -> None:
    z = torch.randn(5, 32)
    w = generator.mapping(z)
    assert w.shape == (5, 32)
    # pixel norm makes the mapping invariant to the scale of z
    assert torch.allclose(generator.mapping(3.0 * z), w, atol=1e-5)
    gen = torch.Generator().manual_seed(1)
    mean = generator.mean_latent(64, generator=gen)
    assert mean.shape == (1, 32)
    assert torch.equal(mean, generator.mean_latent(64, generator=torch.Generator().manual_seed(1)))


def test_synthesis_w_plus_and_styles_agree(generator: StyleGAN2Generator) -> None:
    w_plus = generator.mapping(torch.randn(2, 32)).unsqueeze(1).repeat(1, 8, 1)
    noise = generator.make_noise(2, generator=torch.Generator().manual_seed(0))
    assert [tuple(n.shape) for n in noise] == [(2, 1, r, r) for r in generator.conv_resolutions]
    styles = generator.w_to_styles(w_plus)
    assert [tuple(s.shape) for s in styles] == [(2, c) for _, _, c in generator.style_layers]
    a = generator.synthesis(w_plus, noise=noise)
    b = generator.synthesis(styles=styles, noise=noise)
    assert a.shape == (2, 3, 32, 32)
    assert torch.allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="exactly one"):
        generator.synthesis(w_plus, styles=styles)
    with pytest.raises(ValueError, match="w_plus must have shape"):
        generator.synthesis(w_plus[:, :3])


def test_noise_semantics(generator: StyleGAN2Generator) -> None:
    w_plus = generator.mapping(torch.randn(1, 32)).unsqueeze(1).repeat(1, 8, 1)
    fixed = generator.synthesis(w_plus, randomize_noise=False)
    assert torch.equal(fixed, generator.synthesis(w_plus, randomize_noise=False))
    stored = [getattr(generator.noises, f"noise_{i}") for i in range(generator.num_layers)]
    assert torch.allclose(fixed, generator.synthesis(w_plus, noise=stored), atol=1e-6)
    assert not torch.allclose(fixed, generator.synthesis(w_plus), atol=1e-4)
    # channel-wise noise maps (N, C, r, r) are accepted
    wide = [torch.zeros(1, c, r, r) for c, r in zip(generator.conv_channels, generator.conv_resolutions, strict=True)]
    zero = [torch.zeros(1, 1, r, r) for r in generator.conv_resolutions]
    assert torch.allclose(generator.synthesis(w_plus, noise=wide), generator.synthesis(w_plus, noise=zero))


def test_feature_hook_sees_and_replaces_every_styled_conv(generator: StyleGAN2Generator) -> None:
    w_plus = generator.mapping(torch.randn(1, 32)).unsqueeze(1).repeat(1, 8, 1)
    seen: list[tuple[int, tuple[int, ...]]] = []

    def record(i: int, h: torch.Tensor) -> torch.Tensor:
        seen.append((i, tuple(h.shape)))
        return h

    base = generator.synthesis(w_plus, randomize_noise=False, feature_hook=record)
    assert seen == [(i, (1, c, r, r)) for i, (c, r) in
                    enumerate(zip(generator.conv_channels, generator.conv_resolutions, strict=True))]
    changed = generator.synthesis(w_plus, randomize_noise=False,
                                  feature_hook=lambda i, h: h * 0.5 if i == 3 else h)
    assert not torch.allclose(base, changed, atol=1e-4)


def test_forward_style_mixing_and_truncation(generator: StyleGAN2Generator) -> None:
    z1, z2 = torch.randn(2, 32), torch.randn(2, 32)
    image, latent = generator([z1, z2], inject_index=3, return_latents=True, randomize_noise=False)
    assert image.shape == (2, 3, 32, 32) and latent.shape == (2, 8, 32)
    assert torch.allclose(latent[:, 2], generator.mapping(z1)) and torch.allclose(latent[:, 3], generator.mapping(z2))
    mean = generator.mean_latent(128)
    _, truncated = generator([z1], truncation=0.0, truncation_latent=mean, return_latents=True)
    assert torch.allclose(truncated, mean.expand(2, 8, 32), atol=1e-6)
    w = generator.mapping(z1)
    same, _ = generator([w], input_is_latent=True, randomize_noise=False)
    assert torch.allclose(same, generator([z1], randomize_noise=False)[0], atol=1e-6)


def test_discriminator_shapes_and_stddev_group() -> None:
    torch.manual_seed(0)
    d = StyleGAN2Discriminator(TINY)
    assert d(torch.randn(8, 3, 32, 32)).shape == (8, 1)
    assert d(torch.randn(2, 3, 32, 32)).shape == (2, 1)
    with pytest.raises(ValueError, match="divisible"):
        d(torch.randn(6, 3, 32, 32))
    with pytest.raises(ValueError, match="image must have shape"):
        d(torch.randn(2, 3, 16, 16))


def test_config_validation() -> None:
    with pytest.raises(ValidationError, match="power of two"):
        StyleGAN2Config(size=48)
    with pytest.raises(ValidationError, match="no entry for resolution"):
        StyleGAN2Config(size=2048)
    assert StyleGAN2Config.model_validate({"size": 32, "channels": {"4": 8}}).channel_map[4] == 8


def _upfirdn_by_definition(x: torch.Tensor, k: torch.Tensor, up: int, down: int, pad: tuple[int, int]) -> torch.Tensor:
    """Zero insertion, padding, true convolution (flipped kernel), subsampling; one loop per tap."""
    n, c, h, w = x.shape
    y = torch.zeros(n, c, h * up, w * up)
    y[:, :, ::up, ::up] = x
    y = torch.nn.functional.pad(y, [pad[0], pad[1], pad[0], pad[1]])
    kh, kw = k.shape
    out_h, out_w = y.shape[2] - kh + 1, y.shape[3] - kw + 1
    out = torch.zeros(n, c, out_h, out_w)
    for a in range(kh):
        for b in range(kw):
            out += k[kh - 1 - a, kw - 1 - b] * y[:, :, a:a + out_h, b:b + out_w]
    return out[:, :, ::down, ::down]


@pytest.mark.parametrize(("up", "down", "pad"), [(2, 1, (2, 1)), (2, 1, (1, 1)), (1, 1, (1, 1)), (1, 2, (2, 2)),
                                                  (1, 2, (1, 1)), (2, 1, (3, 3))])
def test_upfirdn2d_matches_its_definition(up: int, down: int, pad: tuple[int, int]) -> None:
    from zoo_core.nets.stylegan2 import upfirdn2d

    x = torch.randn(2, 3, 7, 7)
    k = torch.randn(4, 4)  # asymmetric, so that a flipped kernel would be caught
    torch.testing.assert_close(upfirdn2d(x, k, up=up, down=down, pad=pad),
                               _upfirdn_by_definition(x, k, up, down, pad), atol=1e-5, rtol=0)
