"""The real configuration against the official code: parameter counts, key layouts and the
converter's mapping of every official key (built on the meta device: no memory, no time)."""

from __future__ import annotations

import pytest
import torch
from cvae_gan_official_layout import (
    OFFICIAL_DIGESTS,
    TINY,
    digest,
    official_arcface_layout,
    official_layouts,
)
from zoo_testing.arcface import assert_converts_as_found
from zoo_testing.layouts import meta_tensors

from zoo_core import registry
from zoo_core.errors import WeightsError
from zoo_core.hub import load_state_dict_strict

# Counted on the official modules of Ailon-Island/Facke models/CVAE/networks.py as CVAE.init
# builds them (Merge_Image(512, img_size=224), Encoder(in_channels=4), Merge_Distribution(512,
# num_ID_blocks=9), Decoder(512, 3)): parameters and state-dict entries.
OFFICIAL = {
    "M1": (25_840_640, 7),
    "E": (6_285_376, 42),
    "M2": (51_932_160, 72),
    "D": (1_559_049, 28),
}
GENERATOR = (85_617_225, 149)
ARCFACE_101 = (52_193_215, 796)
OURS = {"M1": "embedding", "E": "encoder", "M2": "blocks", "D": "decoder"}


def meta_model(**overrides):
    with torch.device("meta"):
        return registry.create_model("cvae-gan-224", **overrides)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_official_layouts_are_the_official_ones():
    layouts = official_layouts()
    for role, layout in layouts.items():
        assert digest(layout) == OFFICIAL_DIGESTS[role], role
        assert len(layout) == OFFICIAL[role][1]
    assert digest(official_arcface_layout(101)) == OFFICIAL_DIGESTS["arcface-101"]
    assert digest(official_arcface_layout(18)) == OFFICIAL_DIGESTS["arcface-18"]


@pytest.mark.real_config
def test_parameter_counts_match_the_official_code(cvae_gan_plugin):
    model = meta_model()
    for role, child in OURS.items():
        module = getattr(model.generator, child)
        assert (n_params(module), len(module.state_dict())) == OFFICIAL[role], role
    assert (n_params(model.generator), len(model.generator.state_dict())) == GENERATOR
    assert sum(OFFICIAL[role][0] for role in OURS) == GENERATOR[0]
    assert (n_params(model.identity_encoder), len(model.identity_encoder.state_dict())) == ARCFACE_101
    backbone = {k.removeprefix("backbone."): tuple(v.shape) for k, v in model.identity_encoder.state_dict().items()}
    assert backbone == official_arcface_layout(101)  # SimSwap's ArcFace keys under "backbone."


@pytest.mark.real_config
def test_latent_is_2d_28x28x512(cvae_gan_plugin):
    model = meta_model()
    target, latent = torch.empty(2, 3, 224, 224, device="meta"), torch.empty(2, 512, device="meta")
    mu, log_var = model.generator.encode(target, latent)
    assert mu.shape == log_var.shape == (2, 512, 28, 28)
    assert model.config.latent_shape == (512, 28, 28)
    assert len(model.generator.blocks) == 9
    assert model.generator(target, latent).shape == (2, 3, 224, 224)


@pytest.mark.real_config
def test_converter_maps_every_official_key(cvae_gan_plugin):
    from zoo_plugin_cvae_gan.convert import convert_official

    spec = registry.get_model_spec("cvae-gan-224")
    files = {role: meta_tensors(layout) for role, layout in official_layouts().items()}
    files["identity"] = meta_tensors(official_arcface_layout(101))
    state = convert_official(files, spec.default_config)
    assert len(state) == sum(len(sd) for sd in files.values()) == GENERATOR[1] + ARCFACE_101[1]
    load_state_dict_strict(meta_model(), state, "official layout")  # strict: names and shapes
    # each official tensor lands in exactly one of our entries
    assert {id(t) for t in state.values()} == {id(t) for sd in files.values() for t in sd.values()}


def test_key_map_names(cvae_gan_plugin):
    from zoo_plugin_cvae_gan.config import CONFIG_224
    from zoo_plugin_cvae_gan.convert import official_key_maps

    maps = official_key_maps(CONFIG_224)
    assert {role: len(m) for role, m in maps.items()} == {role: n for role, (_, n) in OFFICIAL.items()}
    assert maps["M1"]["emb.0.weight"] == "generator.embedding.linear.weight"
    assert maps["M1"]["emb.1.running_var"] == "generator.embedding.norm.running_var"
    assert maps["E"]["conv1.1.weight"] == "generator.encoder.first_layer.conv.weight"
    assert maps["E"]["down3.1.bias"] == "generator.encoder.down.2.norm.bias"
    assert maps["E"]["log_var.0.weight"] == "generator.encoder.log_var.conv.weight"
    assert maps["M2"]["ID_blocks.8.adain2.linear.bias"] == "generator.blocks.8.adain2.linear.bias"
    assert maps["M2"]["ID_blocks.0.conv1.1.weight"] == "generator.blocks.0.conv1.weight"
    assert maps["D"]["up1.1.weight"] == "generator.decoder.up.0.conv.weight"  # up1 runs first
    assert maps["D"]["conv2.2.running_mean"] == "generator.decoder.last_layer.norm.running_mean"


def tiny_official() -> dict[str, dict[str, torch.Tensor]]:
    files = {role: meta_tensors(layout) for role, layout in official_layouts(
        TINY["image_size"], TINY["n_blocks"], TINY["ngf"], TINY["max_channels"]).items()}
    files["identity"] = meta_tensors(official_arcface_layout(18, input_size=32))
    return files


def test_converter_accepts_prefixes_and_old_checkpoints(tiny_config):
    from zoo_plugin_cvae_gan.convert import convert_official

    assert_converts_as_found(convert_official, tiny_official(), tiny_config, "generator.embedding.norm.num_batches_tracked")


def test_converter_errors_name_the_keys_and_the_file(tiny_config):
    from zoo_plugin_cvae_gan.convert import convert_official

    files = tiny_official()
    broken = dict(files["M2"])
    del broken["ID_blocks.1.conv2.1.weight"]
    broken["ID_blocks.2.conv1.1.weight"] = broken["ID_blocks.0.conv1.1.weight"]
    with pytest.raises(WeightsError, match=r"M2 checkpoint does not match Facke's M2 \(Merge_Distribution\) with 2 ID blocks: missing official keys: ID_blocks\.1\.conv2\.1\.weight.*unexpected keys: ID_blocks\.2"):
        convert_official({**files, "M2": broken}, tiny_config)

    with pytest.raises(WeightsError, match=r"M2 checkpoint .* the file looks like Facke's E \(Encoder\)"):
        convert_official({**files, "M2": files["E"]}, tiny_config)

    discriminator = {"down4.0.weight": torch.empty(512, 256, 4, 4, device="meta"), "conv2.0.bias": torch.empty(1, device="meta")}
    with pytest.raises(WeightsError, match=r"D checkpoint .* looks like one of Facke's discriminators D1/D2"):
        convert_official({**files, "D": discriminator}, tiny_config)

    big = {**files, "M1": meta_tensors(official_layouts(image_size=224)["M1"])}
    with pytest.raises(WeightsError, match=r"'emb\.0\.weight' has shape \(50176, 512\), expected \(1024, 512\) \(M1 maps the code to 50176 pixels; set image_size to match\)"):
        convert_official(big, tiny_config)

    reshaped = {**files["D"], "up1.1.weight": torch.empty(3, 3, 3, 3, device="meta")}
    with pytest.raises(WeightsError, match=r"'up1\.1\.weight' has shape \(3, 3, 3, 3\), expected \(16, 16, 3, 3\)"):
        convert_official({**files, "D": reshaped}, tiny_config)

    with pytest.raises(WeightsError, match="holds no SimSwap ArcFace.*looks like Facke's D"):
        convert_official({**files, "identity": files["D"]}, tiny_config)

    deeper = {**files, "identity": meta_tensors(official_arcface_layout(101))}
    with pytest.raises(WeightsError, match=r"identity checkpoint does not match SimSwap's ArcFace IR-SE ResNet-18.*unexpected keys: layer1\.2"):
        convert_official(deeper, tiny_config)
