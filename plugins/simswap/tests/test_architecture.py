"""The real configurations against the official code: parameter counts, key layouts and the
converter's mapping of every official key (built on the meta device: no memory, no time)."""

from __future__ import annotations

import pytest
import torch
from simswap_official_layout import (
    OFFICIAL_DIGESTS,
    digest,
    official_arcface_layout,
    official_generator_layout,
)
from zoo_testing.arcface import assert_converts_as_found
from zoo_testing.layouts import meta_tensors

from zoo_core import registry
from zoo_core.errors import WeightsError
from zoo_core.hub import load_state_dict_strict

# Counted on the official modules (neuralchen/SimSwap, Generator_Adain_Upsample(3, 3, 512,
# n_blocks=9, deep=...) of models/fs_networks.py / fs_networks_512.py and the ArcFace
# ResNet(IRBlock, [3, 4, 23, 3], use_se=True)): parameters and state-dict entries.
OFFICIAL = {
    ("simswap-224", False): (55_051_779, 123),
    ("simswap-224", True): (59_773_443, 137),
    ("simswap-512", False): (55_079_427, 137),
    ("simswap-512", True): (59_801_091, 151),
}
ARCFACE_101 = (52_193_215, 796)


def meta_model(name: str, **overrides):
    with torch.device("meta"):
        return registry.create_model(name, **overrides)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("kind", ["224", "512"])
@pytest.mark.parametrize("deep", [False, True])
def test_official_layouts_are_the_official_ones(kind, deep):
    layout = official_generator_layout(kind, deep=deep)
    assert digest(layout) == OFFICIAL_DIGESTS[(kind, deep)]
    assert len(layout) == OFFICIAL[(f"simswap-{kind}", deep)][1]
    assert digest(official_arcface_layout(101)) == OFFICIAL_DIGESTS[("arcface", 101)]
    assert digest(official_arcface_layout(18)) == OFFICIAL_DIGESTS[("arcface", 18)]


@pytest.mark.real_config
@pytest.mark.parametrize("name", ["simswap-224", "simswap-512"])
@pytest.mark.parametrize("deep", [False, True])
def test_parameter_counts_match_the_official_code(simswap_plugin, name, deep):
    model = meta_model(name, deep=deep)
    params, entries = OFFICIAL[(name, deep)]
    assert n_params(model.generator) == params
    assert len(model.generator.state_dict()) == entries
    assert (n_params(model.identity_encoder), len(model.identity_encoder.state_dict())) == ARCFACE_101
    # the ArcFace keys are the official ones under "backbone."
    layout = official_arcface_layout(101)
    backbone = {k.removeprefix("backbone."): tuple(v.shape) for k, v in model.identity_encoder.state_dict().items()}
    assert backbone == layout


@pytest.mark.real_config
@pytest.mark.parametrize("name,kind", [("simswap-224", "224"), ("simswap-512", "512")])
@pytest.mark.parametrize("deep", [False, True])
def test_converter_maps_every_official_key(simswap_plugin, name, kind, deep):
    from zoo_plugin_simswap.convert import convert_official

    spec = registry.get_model_spec(name)
    generator = meta_tensors(official_generator_layout(kind, deep=deep))
    identity = meta_tensors(official_arcface_layout(101))
    state = convert_official({"generator": generator, "identity": identity}, {**spec.default_config, "deep": deep})
    assert len(state) == len(generator) + len(identity)
    model = meta_model(name, deep=deep)
    load_state_dict_strict(model, state, "official layout")  # strict: names and shapes
    # each official tensor lands in exactly one of our entries
    assert {id(t) for t in state.values()} == {id(t) for t in [*generator.values(), *identity.values()]}


def test_key_map_names(simswap_plugin):
    from zoo_plugin_simswap.config import CONFIG_224, CONFIG_512
    from zoo_plugin_simswap.convert import generator_key_map, official_stage_names

    assert official_stage_names(CONFIG_224) == (["down1", "down2", "down3"], ["up3", "up2", "up1"])
    assert official_stage_names(CONFIG_512) == (["down0", "down1", "down2", "down3"], ["up3", "up2", "up1", "up0"])
    deep = CONFIG_224.model_copy(update={"deep": True})
    assert official_stage_names(deep) == (["down1", "down2", "down3", "down4"], ["up4", "up3", "up2", "up1"])
    mapping = generator_key_map(CONFIG_512)
    assert mapping["down0.0.weight"] == "generator.down.0.conv.weight"
    assert mapping["up0.2.running_var"] == "generator.up.3.norm.running_var"
    assert mapping["BottleNeck.8.style2.linear.bias"] == "generator.blocks.8.adain2.linear.bias"
    assert mapping["last_layer.1.weight"] == "generator.last_layer.conv.weight"


def tiny_official(kind: str = "224") -> dict[str, dict[str, torch.Tensor]]:
    return {
        "generator": meta_tensors(official_generator_layout(kind, n_blocks=2, ngf=4, max_channels=16)),
        "identity": meta_tensors(official_arcface_layout(18, input_size=32)),
    }


def test_converter_accepts_prefixes_and_old_checkpoints(tiny_config):
    from zoo_plugin_simswap.convert import convert_official

    assert_converts_as_found(convert_official, tiny_official(), tiny_config, "generator.first_layer.norm.num_batches_tracked")


def test_converter_errors_name_the_official_keys(tiny_config):
    from zoo_plugin_simswap.convert import convert_official

    files = tiny_official()
    broken = dict(files["generator"])
    del broken["BottleNeck.1.conv2.1.weight"]
    broken["BottleNeck.2.conv1.1.weight"] = broken["BottleNeck.0.conv1.1.weight"]
    with pytest.raises(WeightsError, match=r"missing official keys: BottleNeck\.1\.conv2\.1\.weight.*unexpected keys: BottleNeck\.2"):
        convert_official({**files, "generator": broken}, tiny_config)

    reshaped = {**files["generator"], "up1.1.weight": torch.empty(3, 3, 3, 3, device="meta")}
    with pytest.raises(WeightsError, match=r"'up1\.1\.weight' has shape \(3, 3, 3, 3\), expected \(4, 8, 3, 3\)"):
        convert_official({**files, "generator": reshaped}, tiny_config)

    with pytest.raises(WeightsError, match="a 512 checkpoint; convert it with simswap-512"):
        convert_official({**files, "generator": tiny_official("512")["generator"]}, tiny_config)

    large = {**tiny_config, "ngf": 2, "n_downsampling": 4}  # same widths as tiny 224, plus down0/up0
    with pytest.raises(WeightsError, match=r"no down0: a 224 checkpoint.*missing official keys: down0\.0\.weight"):
        convert_official(files, large)

    with pytest.raises(WeightsError, match="holds no SimSwap ArcFace"):
        convert_official({**files, "identity": files["generator"]}, tiny_config)

    deeper = {**files, "identity": meta_tensors(official_arcface_layout(101))}
    with pytest.raises(WeightsError, match=r"identity checkpoint does not match SimSwap's ArcFace IR-SE ResNet-18.*unexpected keys: layer1\.2"):
        convert_official(deeper, tiny_config)
