"""Converter: official key names and shapes -> a strictly loadable state dict; bad files give
WeightsErrors naming the role and the keys; the full zoo convert pipeline saves a folder."""

from __future__ import annotations

import pytest
import torch
from infoswap_official_layout import official_checkpoints
from zoo_plugin_infoswap.config import TINY, InfoSwapConfig
from zoo_plugin_infoswap.convert import convert_official
from zoo_plugin_infoswap.model import build

import zoo_core
from zoo_core.convert import convert
from zoo_core.errors import WeightsError
from zoo_core.hub import load_state_dict_strict

CONFIG = InfoSwapConfig(**TINY).model_dump()


@pytest.fixture(scope="module")
def files():
    return official_checkpoints(CONFIG)


def test_converted_weights_load_strictly_and_keep_values(files):
    state = convert_official(files, CONFIG)
    model = build(None, CONFIG)
    load_state_dict_strict(model, state, "test")
    key = "AADBlk3.AAD1.fc1.weight"
    torch.testing.assert_close(model.generator.AADBlk3.AAD1.fc1.weight, files["generator"][key])
    n = files["readout4"]["n_samples"].double()
    std = torch.sqrt(files["readout4"]["s"].double() / (n - 1)).float()
    torch.testing.assert_close(model.stats.std4, std)
    active = model.stats.active4
    assert 0.8 < active.mean() < 0.95 and set(active.unique().tolist()) == {0.0, 1.0}


def test_no_smooth_mode_drops_the_smoothing_weights(files):
    config = {**CONFIG, "smooth": False}
    state = convert_official(files, config)  # the file still carries iba_*.smooth.conv.weight
    assert not any(".smooth." in key for key in state)
    load_state_dict_strict(build(None, config), state, "test")


def test_errors_name_role_and_keys(files):
    broken = dict(files)
    broken["decoder"] = {k: v for k, v in files["decoder"].items() if k != "conv_3.weight"}
    with pytest.raises(WeightsError, match=r"decoder checkpoint .*conv_3\.weight"):
        convert_official(broken, CONFIG)
    broken = dict(files)
    broken["generator"] = {**files["generator"], "up1.weight": torch.zeros(512, 7, 2, 2)}
    with pytest.raises(WeightsError, match=r"generator checkpoint .*'up1\.weight' has shape"):
        convert_official(broken, CONFIG)
    broken = dict(files)
    broken["readout3"] = {"m": files["readout3"]["m"]}
    with pytest.raises(WeightsError, match="readout3 checkpoint is not a readout_layer"):
        convert_official(broken, CONFIG)
    broken = dict(files)
    broken["readout0"] = files["readout9"]
    with pytest.raises(WeightsError, match="readout0 checkpoint has shape"):
        convert_official(broken, CONFIG)


def test_zoo_convert_pipeline(infoswap_plugin, files, tmp_path):
    paths = {}
    for role, state in files.items():
        paths[role] = tmp_path / f"{role}.pth"
        torch.save(state, paths[role])
    folder = convert("infoswap-512", paths, tmp_path / "out", config_overrides=TINY)
    model = zoo_core.load(f"local-dir:{folder}")
    torch.testing.assert_close(model.iib.iba_2.conv1.weight, files["iib"]["iba_2.conv1.weight"])
    assert (folder / "model.safetensors").is_file()
