"""MFIM model: encoder outputs fit the generator's style and noise inputs exactly, swap and ID
mixing semantics, E+ blending, the real configuration's sizes and parameter counts."""

from __future__ import annotations

import pytest
import torch
from mfim_tiny import TINY
from zoo_plugin_mfim.config import MFIMConfig
from zoo_plugin_mfim.model import roi_mask

from zoo_core import hub, registry
from zoo_core.errors import InputError
from zoo_core.protocols import IdentityMixer, SwapModel


def crops(n: int, seed: int, size: int = 64) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_codes_and_style_maps_match_the_generator_inputs(tiny_model):
    generator = tiny_model.generator
    codes, maps = tiny_model.encode_target(crops(2, 0))
    codes.update(tiny_model.encode_identity(crops(2, 1)))
    assert sorted(codes) == list(range(len(generator.style_layers)))
    for k, (_, _, channels) in enumerate(generator.style_layers):
        assert tuple(codes[k].shape) == (2, channels)
    # style maps: every noise input whose resolution is a latent map's side (4, 8, 16 here)
    assert sorted(maps) == [i for i, r in enumerate(generator.conv_resolutions) if r in (4, 8, 16)]
    for i, style_map in maps.items():
        r, c = generator.conv_resolutions[i], generator.conv_channels[i]
        assert tuple(style_map.shape) == (2, c, r, r)
    # target codes are the coarse layers (<= 16 px), ID codes the finer ones
    assert all(generator.style_layers[k][1] <= 16 for k in tiny_model.target_layers)
    assert all(generator.style_layers[k][1] > 16 for k in tiny_model.id_layers)


def test_synthesis_receives_one_style_per_layer_and_one_noise_per_input(tiny_model, monkeypatch):
    seen = {}
    original = tiny_model.generator.synthesis

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(tiny_model.generator, "synthesis", spy)
    out = tiny_model(crops(2, 0), crops(2, 1))
    generator = tiny_model.generator
    assert tuple(out.shape) == (2, 3, 64, 64)
    assert [tuple(s.shape) for s in seen["styles"]] == [(2, c) for _, _, c in generator.style_layers]
    assert len(seen["noise"]) == generator.num_layers
    for i, noise in enumerate(seen["noise"]):
        r = generator.conv_resolutions[i]
        assert noise.shape[-2:] == (r, r) and noise.shape[1] in (1, generator.conv_channels[i])


def test_style_maps_and_codes_drive_the_image(tiny_model):
    torch.manual_seed(1)
    for block in tiny_model.encoder.m2m:  # M2M starts at zero (plain inversion); give it weights
        torch.nn.init.normal_(block.conv2.weight, std=0.1)
    source, target = crops(1, 0), crops(1, 1)
    codes, maps = tiny_model.encode_target(target)
    codes.update(tiny_model.encode_identity(source))
    with torch.no_grad():
        base = tiny_model.synthesize(codes, maps)
        no_maps = tiny_model.synthesize(codes, {})
        other_id = tiny_model.synthesize({**codes, **tiny_model.encode_identity(crops(1, 2))}, maps)
    assert (base - no_maps).abs().max() > 1e-3
    assert (base - other_id).abs().max() > 1e-3
    assert torch.equal(base, tiny_model.synthesize(codes, maps).detach())  # deterministic noise


def test_swap_contract_and_identity(tiny_model):
    assert isinstance(tiny_model, SwapModel) and isinstance(tiny_model, IdentityMixer)
    target = crops(3, 1, size=128)  # crops at another size: output follows the target
    out = tiny_model.swap(crops(1, 0, size=128), target)
    assert tuple(out.shape) == (3, 3, 128, 128) and 0 <= out.min() and out.max() <= 1
    dims = sum(tiny_model.generator.style_layers[k][2] for k in tiny_model.id_layers)
    assert tuple(tiny_model.identity(crops(2, 0)).shape) == (2, dims)
    with pytest.raises(InputError, match="source batch 2"):
        tiny_model.swap(crops(2, 0), crops(3, 1))


def test_mixing_with_one_source_equals_a_plain_swap(tiny_model):
    source, target = crops(2, 0), crops(2, 1)
    with torch.no_grad():
        assert torch.equal(tiny_model.mix(source, source, target), tiny_model.swap(source, target))
        mixed = tiny_model.mix(source, crops(2, 2), target)
    assert (mixed - tiny_model.swap(source, target)).abs().max() > 1e-4


def test_mixing_assigns_resolutions_to_sources(tiny_model):
    a, b, c, target = crops(1, 0), crops(1, 1), crops(1, 2), crops(1, 3)
    with torch.no_grad():
        three = tiny_model.mix_sources([a, b, c], {32: 0, 64: 1}, target)
        two = tiny_model.mix(a, b, target)  # global 32 from a, local 64 from b: c unused
        assert torch.equal(three, two)
        assert torch.equal(tiny_model.mix_sources([a, c], {}, target), tiny_model.swap(c, target))
    assert tiny_model.level_assignment({32: 0}, 2) == {k: 0 if tiny_model.layer_resolutions[k] == 32 else 1
                                                       for k in tiny_model.id_layers}
    with pytest.raises(InputError, match=r"resolutions \[16\] carry no ID codes"):
        tiny_model.mix_sources([a, b], {16: 0}, target)
    with pytest.raises(InputError, match="out of range"):
        tiny_model.mix_sources([a, b], {32: 2}, target)


def test_roi_synthesis_keeps_the_target_outside_the_face(mfim_plugin):
    torch.manual_seed(0)
    model = registry.create_model("mfim-1024", **TINY, roi_synthesis=True)
    target = crops(1, 1)
    mask = roi_mask(model.config, 64)
    with torch.no_grad():
        out = model.swap(crops(1, 0), target)
    outside = mask[0, 0] == 0
    inside = mask[0, 0] == 1
    assert outside.any() and inside.any()
    assert torch.allclose(out[0][:, outside], target[0][:, outside])
    assert not torch.allclose(out[0][:, inside], target[0][:, inside])


def test_latent_avg_is_the_origin_of_the_codes(tiny_model):
    w = torch.randn(1, TINY["style_dim"])
    tiny_model.set_latent_avg(w)
    offsets = tiny_model.style_offsets()
    expected = tiny_model.generator.w_to_styles(w[:, None].expand(1, tiny_model.generator.n_latent, -1))
    assert all(torch.equal(a, b) for a, b in zip(offsets, expected, strict=True))


def test_save_and_load_round_trip(tiny_model, tmp_path):
    tiny_model.set_latent_avg(torch.randn(1, TINY["style_dim"]))
    hub.save_pretrained(tiny_model, tmp_path / "mfim")
    loaded = hub.load(f"local-dir:{tmp_path / 'mfim'}")
    source, target = crops(1, 0), crops(1, 1)
    with torch.no_grad():
        assert torch.equal(loaded.swap(source, target), tiny_model.eval().swap(source, target))


def test_config_rejects_inconsistent_settings():
    with pytest.raises(ValueError, match="latent_channels"):
        MFIMConfig(latent_channels=256)
    with pytest.raises(ValueError, match="finer than coarse_max_resolution"):
        MFIMConfig(global_resolutions=(16,))
    with pytest.raises(ValueError, match="power of two"):
        MFIMConfig(input_size=200)


def test_real_configuration_sizes_and_parameter_counts(mfim_plugin):
    with hub.skip_weight_init(), torch.device("meta"):
        model = registry.create_model("mfim-1024")
    generator = model.generator
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    # the paper's twenty-six StyleSpace codes and the 17 noise inputs of the 1024 generator
    assert len(generator.style_layers) == 26 and len(model.encoder.styles) == 26
    assert generator.num_layers == 17
    assert [d for _, _, d in generator.style_layers] == [512] * 15 + [256] * 3 + [128] * 3 + [64] * 3 + [32] * 2
    assert model.target_layers == list(range(8)) and model.id_layers == list(range(8, 26))
    assert model.encoder.map_layers == [3, 4, 5, 6, 7, 8]  # 16, 32 and 64 px noise inputs
    assert model.config.latent_map_sizes == (16, 32, 64)
    assert count(generator) == 30_370_060  # rosinality config-f generator
    assert count(model.encoder.input_layer) + count(model.encoder.body) == 30_950_080
    assert count(model.encoder.styles) == 339_754_880
    assert count(model.encoder.m2m) == 28_317_696
    assert count(model) == 429_590_348
