"""The CVAE-GAN spec as registered, its configuration checks, its dependency on SimSwap and the
converter's roles shown by ``zoo info`` at start-up (the checks every plugin shares, entry point
and a start-up without torch: tests/test_installed_plugins.py)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from zoo_core import registry
from zoo_core.errors import ConfigError, ZooError
from zoo_core.nets.identity_config import IDENTITY_ENCODER_PRESETS


def test_variant_and_its_spec(cvae_gan_plugin):
    assert registry.list_models("cvae-gan-*") == ["cvae-gan-224"]
    spec = registry.get_model_spec("cvae-gan-224")
    assert (spec.family, spec.resolution, spec.plugin) == ("cvae-gan", 224, "zoo-plugin-cvae-gan")
    assert spec.capabilities == frozenset({"swap"}) and spec.template == "ffhq"
    assert spec.identity_encoder == "simswap-arcface" and "simswap-arcface" in IDENTITY_ENCODER_PRESETS
    assert spec.datasets == ("VGGFace2-HQ",)
    assert spec.weights is None and not spec.pretrained  # no published zoo repository yet
    assert spec.paper is not None and spec.paper.arxiv == "2206.11203"
    assert spec.source_url == "https://github.com/Ailon-Island/Facke"
    assert spec.builder == "zoo_plugin_cvae_gan.model:build"
    config = spec.default_config
    assert (config["latent_size"], config["image_size"], config["n_blocks"]) == (512, 224, 9)
    assert (config["ngf"], config["max_channels"]) == (64, 512)
    assert (config["noise"], config["deterministic"]) == ("gaussian", False)  # the paper's sampling
    assert (config["identity_depth"], config["identity_input_size"]) == (101, 112)
    [converter] = registry.get_converters("cvae-gan-224")
    assert converter.function == "zoo_plugin_cvae_gan.convert:convert_official"
    assert list(converter.roles) == ["M1", "E", "M2", "D", "identity"]
    assert all(role.required for role in converter.roles.values())  # D is the decoder
    assert converter.roles["D"].example == "checkpoints/CVAE_GAN/D/1468511_iter.pth"
    assert converter.roles["identity"].example == "arcface_checkpoint.tar"


def test_config_checks(cvae_gan_plugin):
    with pytest.raises(ZooError, match="unknown config keys"):
        registry.create_model("cvae-gan-224", n_block=3)
    with pytest.raises(ConfigError, match="latent_size must be 512"):
        registry.create_model("cvae-gan-224", latent_size=256)
    with pytest.raises(ConfigError, match="image_size must be divisible by 8"):
        registry.create_model("cvae-gan-224", image_size=36)
    with pytest.raises(ConfigError, match="noise"):
        registry.create_model("cvae-gan-224", noise="laplace")


def test_installed_distribution_needs_simswap(installed_cvae_gan: Path):
    [dist] = [d for d in metadata.distributions(path=[str(installed_cvae_gan)])
              if d.metadata["Name"] == "zoo-plugin-cvae-gan"]
    assert {r.split(">")[0] for r in dist.requires or []} >= {"zoo-core", "zoo-plugin-simswap"}


def test_info_at_start_up_names_every_converter_role(installed_cvae_gan: Path, zoo_start_up):
    result, _ = zoo_start_up(installed_cvae_gan, "cvae-gan", "info", "cvae-gan-224")
    assert "zoo convert cvae-gan-224 M1=FILE E=FILE M2=FILE D=FILE identity=FILE" in result.stdout, result.stderr
