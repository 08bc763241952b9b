"""The SimSwap specs as registered, and ``zoo info`` at start-up (the checks every plugin shares,
entry point and a start-up without torch: tests/test_installed_plugins.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoo_core import registry
from zoo_core.nets.identity_config import IDENTITY_ENCODER_PRESETS


def test_variants_and_their_specs(simswap_plugin):
    assert registry.list_models("simswap-*") == ["simswap-224", "simswap-512"]
    small, large = registry.get_model_spec("simswap-224"), registry.get_model_spec("simswap-512")
    assert (small.resolution, small.template, small.datasets) == (224, "simswap-224", ("VGGFace2",))
    assert (large.resolution, large.template, large.datasets) == (512, "ffhq", ("VGGFace2-HQ",))
    for spec in (small, large):
        assert spec.family == "simswap" and spec.plugin == "zoo-plugin-simswap"
        assert spec.capabilities == frozenset({"swap"})
        assert spec.identity_encoder == "simswap-arcface" and "simswap-arcface" in IDENTITY_ENCODER_PRESETS
        # no zoo repository: the official release files, all fetchable, converted at first load
        assert spec.weights is None and spec.pretrained
        assert [source.role for source in spec.sources] == ["generator", "identity"]
        assert all(source.url.startswith("https://github.com/neuralchen/SimSwap/releases/download/")
                   for source in spec.sources)
        assert spec.paper is not None and spec.paper.arxiv == "2106.06340"
        assert spec.source_url == "https://github.com/neuralchen/SimSwap"
        assert spec.builder == "zoo_plugin_simswap.model:build"
        config = spec.default_config
        assert (config["input_nc"], config["output_nc"], config["latent_size"]) == (3, 3, 512)
        assert (config["n_blocks"], config["deep"], config["padding_type"]) == (9, False, "reflect")
        assert (config["identity_depth"], config["identity_input_size"]) == (101, 112)
        [converter] = registry.get_converters(spec.name)
        assert converter.function == "zoo_plugin_simswap.convert:convert_official"
        assert set(converter.roles) == {"generator", "identity"}
        assert converter.roles["identity"].example == "arcface_checkpoint.tar"
    assert (small.default_config["ngf"], small.default_config["n_downsampling"]) == (64, 3)
    assert (large.default_config["ngf"], large.default_config["n_downsampling"]) == (32, 4)
    assert registry.get_converters("simswap-224")[0].roles["generator"].example == "latest_net_G.pth"
    assert registry.get_converters("simswap-512")[0].roles["generator"].example == "550000_net_G.pth"


def test_unknown_config_keys_and_bad_latent_size_are_refused(simswap_plugin):
    from zoo_core.errors import ConfigError, ZooError

    with pytest.raises(ZooError, match="unknown config keys"):
        registry.create_model("simswap-224", n_block=3)
    with pytest.raises(ConfigError, match="latent_size must be 512"):
        registry.create_model("simswap-224", latent_size=256)


def test_info_of_the_512_variant_at_start_up(installed_simswap: Path, zoo_start_up):
    result, _ = zoo_start_up(installed_simswap, "simswap", "info", "simswap-512")
    assert "simswap-512" in result.stdout, result.stderr
    assert "zoo convert simswap-512" in result.stdout and "generator=" in result.stdout
