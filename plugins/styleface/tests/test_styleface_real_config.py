"""styleface-256 and styleface-1024 at their real configurations, built on the meta device:
every part's parameter count against the paper's architecture written out by hand."""

from __future__ import annotations

import pytest
import torch

from zoo_core import registry
from zoo_core.nets.stylegan2 import default_channels

ARCFACE_IRESNET100 = 65_156_160  # insightface iresnet100 (the core's identity-encoder test)
ROSINALITY_1024 = 30_370_060  # rosinality/stylegan2-pytorch Generator(1024, 512, 8), config-f


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv(cin: int, cout: int, k: int) -> int:
    return cin * cout * k * k + cout


def expected_generator(size: int) -> int:
    """StyleGAN2 config-f: mapping (8 x 512 -> 512), constant input, modulated 3x3 convs with
    their style affine (512 -> in, bias), noise weight and activation bias, toRGB (1x1, style
    affine, bias)."""
    channels = default_channels(2)

    def styled(cin: int, cout: int) -> int:
        return cout * cin * 9 + 512 * cin + cin + 1 + cout

    def to_rgb(cin: int) -> int:
        return 3 * cin + 512 * cin + cin + 3

    total = 8 * (512 * 512 + 512) + 512 * 16 + styled(512, 512) + to_rgb(512)
    for k in range(3, size.bit_length()):
        cin, cout = channels[2 ** (k - 1)], channels[2**k]
        total += styled(cin, cout) + styled(cout, cout) + to_rgb(cout)
    return total


def expected_aae(size: int) -> int:
    """One 3x3 conv per resolution down (fromRGB, then stride 2), one per resolution up (on
    the upsampled feature concatenated with the skip), a 1x1 conv per resolution to the
    generator's width; inner widths are 1/8 of the generator's (Sec. 4.1)."""
    channels = default_channels(2)
    resolutions = [2**k for k in range(2, size.bit_length())]
    width = {r: channels[r] // 8 for r in resolutions}
    total = conv(3, width[size], 3)
    total += sum(conv(width[r], width[r // 2], 3) for r in resolutions[1:])
    total += sum(conv(width[r] + width[2 * r], width[2 * r], 3) for r in resolutions[:-1])
    return total + sum(conv(width[r], channels[r], 1) for r in resolutions)


def expected_injections(size: int) -> int:
    """One mask conv (1x1, 2C -> C) per modulated conv: conv1 at 4, two per higher resolution."""
    channels = default_channels(2)
    convs = [4] + [r for k in range(3, size.bit_length()) for r in (2**k, 2**k)]
    return sum(conv(2 * channels[r], channels[r], 1) for r in convs)


def test_generator_formula_is_rosinalitys_count():
    assert expected_generator(1024) == ROSINALITY_1024


@pytest.mark.real_config
@pytest.mark.parametrize("name,size", [("styleface-256", 256), ("styleface-1024", 1024)])
def test_parameter_counts(styleface_plugin, name, size):
    with torch.device("meta"):
        model = registry.create_model(name)
    assert n_params(model.projector) == 512 * 2 * 3 * 512 + 2 * 3 * 512  # one linear layer -> (mu, logvar) x 3
    assert n_params(model.aae) == expected_aae(size)
    assert n_params(model.injections) == expected_injections(size)
    assert n_params(model.generator) == expected_generator(size)
    assert n_params(model.identity_encoder) == ARCFACE_IRESNET100
    assert n_params(model) == (n_params(model.projector) + expected_aae(size) + expected_injections(size)
                               + expected_generator(size) + ARCFACE_IRESNET100)
    # the attribute path is light next to the generator (the paper's "lightweight" AAE)
    assert n_params(model.aae) < 0.03 * expected_generator(size)
    assert model.generator.n_latent == (14 if size == 256 else 18)


@pytest.mark.real_config
def test_real_shapes_at_256(styleface_plugin):
    with torch.device("meta"):
        model = registry.create_model("styleface-256")
        target = torch.empty(1, 3, 256, 256)
        features = model.aae(target)
        image, masks = model.synthesize(torch.empty(1, 3, 512), target)
    assert image.shape == (1, 3, 256, 256)
    assert [tuple(f.shape[1:]) for f in features] == [(default_channels(2)[r], r, r) for r in (4, 8, 16, 32, 64, 128, 256)]
    assert [tuple(m.shape[1:]) for m in masks] == [(c, r, r) for c, r in zip(model.generator.conv_channels,
                                                                            model.generator.conv_resolutions, strict=True)]
    # levels: 4-16 low, 32-128 mid, 256 high, over conv and toRGB layers
    assert model.style_levels == [0, 0] + [0] * 6 + [1] * 9 + [2] * 3
