"""InfoSwap networks: tiny forward/backward at 512 and 1024, Eq. 6, noise control, the
released configurations' parameter counts and the official state-dict layouts."""

from __future__ import annotations

import pytest
import torch
from infoswap_official_layout import OFFICIAL_DIGESTS, digest, official_layouts
from zoo_plugin_infoswap.config import CONFIG_512, CONFIG_1024, TINY, InfoSwapConfig
from zoo_plugin_infoswap.iib import information
from zoo_plugin_infoswap.model import build

from zoo_core import registry


@pytest.fixture(scope="module")
def tiny512():
    torch.manual_seed(0)
    return build(None, TINY).eval()


def test_tiny_swap_identity_and_lambda_maps(tiny512):
    x = torch.rand(2, 3, 256, 256)
    with torch.no_grad():
        out = tiny512.swap(x, x.flip(0), generator=torch.Generator().manual_seed(1))
        single = tiny512.swap(x[:1], x[1:], generator=torch.Generator().manual_seed(1))
        code = tiny512.compressed_identity(x[:1])
        maps = tiny512.lambda_maps(x[:1])
    assert out.shape == x.shape and 0 <= out.min() and out.max() <= 1
    # seeded noise is reproducible, and a pair never depends on the rest of the batch
    torch.testing.assert_close(out[:1], single)
    assert not torch.equal(out[0], out[1])
    assert code.shape == (1, 512) and torch.allclose(code.norm(dim=1), torch.ones(1))
    assert [m.shape[-1] for m in maps] == [64, 32, 32, 32, 16, 16, 16, 16, 8, 8]
    with pytest.raises(ValueError, match="source must be"):
        tiny512.swap(torch.rand(1, 3, 64, 64), x[:1])


def test_bgr_option_flips_channels_in_and_out(tiny512):
    bgr = build(None, {**TINY, "bgr_input": True}).eval()
    bgr.load_state_dict(tiny512.state_dict())
    x, y = torch.rand(1, 3, 256, 256), torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        expected = tiny512.swap(x.flip(1), y.flip(1), generator=torch.Generator().manual_seed(2)).flip(1)
        actual = bgr.swap(x, y, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(actual, expected)


def test_tiny_1024_forward_and_backward_reach_every_trained_part():
    model = build(None, {**TINY, "resolution": 1024}).train()
    assert model.config.output_size == 512 and not model.identity_encoder.training
    x = model.to_network(torch.rand(1, 3, 512, 512))
    _, feats = model.recognize(x)
    lambdas = model.controllers(feats)
    z = sum(model.restrict(model.compress(i, feats[i], lam, None)[0], i) for i, lam in enumerate(lambdas)) / 10
    y = model.generate(z, [f for f in feats[:10]], lambdas, x)
    assert y.shape == (1, 3, 512, 512)
    y.mean().backward()
    for part in (model.iib, model.decoder, model.generator):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
    assert all(p.grad is None for p in model.identity_encoder.parameters())


def test_information_is_zero_without_information_and_grows_with_lambda():
    r, mean, std = torch.randn(4, 8, 5, 5), torch.zeros(8, 5, 5), torch.ones(8, 5, 5)
    assert information(r, torch.zeros_like(r), mean, std).abs().max() < 1e-7
    values = [information(r, torch.full_like(r, lam), mean, std).mean().item() for lam in (0.0, 0.2, 0.5, 0.9)]
    assert values == sorted(values) and values[-1] > values[1] > 0


def test_config_checks():
    with pytest.raises(ValueError, match="multiple of 32"):
        InfoSwapConfig(channels=100)
    with pytest.raises(ValueError, match="identity_units"):
        InfoSwapConfig(identity_units=(2, 4, 3, 1))


@pytest.mark.real_config
@pytest.mark.parametrize("config", [CONFIG_512, CONFIG_1024], ids=["512", "1024"])
def test_released_configuration_parameter_counts(config):
    with torch.device("meta"):
        model = build(None, config.model_dump())
    count = {name: sum(p.numel() for p in getattr(model, name).parameters())
             for name in ("identity_encoder", "iib", "decoder", "generator")}
    expected = {512: (47_729_856, 14_201_344, 67_174_336, 121_457_621),
                1024: (47_729_856, 14_201_344, 67_207_168, 121_679_511)}[config.resolution]
    assert tuple(count.values()) == expected
    assert model.config.output_size == config.resolution


@pytest.mark.real_config
def test_layouts_equal_the_official_modules():
    for resolution, config in ((512, CONFIG_512), (1024, CONFIG_1024)):
        layouts = official_layouts(config.model_dump())
        assert digest(layouts["generator"]) == OFFICIAL_DIGESTS[f"generator{resolution}"]
        assert digest(layouts["decoder"]) == OFFICIAL_DIGESTS[f"decoder{resolution}"]
        assert digest(layouts["iib"]) == OFFICIAL_DIGESTS["iib"]
        assert digest(layouts["identity"]) == OFFICIAL_DIGESTS["identity"]


def test_registered_specs(infoswap_plugin):
    spec = registry.get_model_spec("infoswap-512")
    assert (spec.template, spec.identity_encoder, spec.license) == ("infoswap-512", "infoswap-irse50", "cc-by-nc-sa-4.0")
    (converter,) = registry.get_converters("infoswap-512")
    assert set(converter.roles) == {"generator", "decoder", "iib", "identity", *(f"readout{i}" for i in range(11))}
    assert registry.get_model_spec("infoswap-1024").default_config["resolution"] == 1024
