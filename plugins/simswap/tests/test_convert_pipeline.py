"""``zoo convert`` with files laid out as the official ones: a generator state dict and both
pickle formats of ``arcface_checkpoint.tar``, read by the core's restricted unpickler."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from simswap_official_layout import TINY, fill, official_generator_layout
from zoo_testing.arcface import FORMATS, stand_in_arcface, write_checkpoints

import zoo_core
from zoo_core.convert import convert
from zoo_core.errors import WeightsError


@pytest.fixture(scope="module")
def official_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("official")
    generator = fill(official_generator_layout("224", n_blocks=TINY["n_blocks"], ngf=TINY["ngf"],
                                               max_channels=TINY["max_channels"]), seed=3)
    torch.save(generator, folder / "latest_net_G.pth")
    arcface = stand_in_arcface(TINY["identity_depth"], TINY["identity_input_size"])
    return {"generator_path": folder / "latest_net_G.pth", "generator": generator,
            "arcface": arcface.state_dict(), "arcface_paths": write_checkpoints(arcface, folder)}


@pytest.mark.parametrize("label", list(FORMATS))
def test_convert_then_load_gives_the_official_tensors(simswap_plugin, official_files, tmp_path: Path, label: str):
    from zoo_plugin_simswap.config import SimSwapConfig
    from zoo_plugin_simswap.convert import generator_key_map

    files = {"generator": official_files["generator_path"], "identity": official_files["arcface_paths"][label]}
    folder = convert("simswap-224", files, tmp_path / "converted", config_overrides=TINY)
    assert (folder / "model.safetensors").is_file() and "license: cc-by-nc-4.0" in (folder / "README.md").read_text()

    model = zoo_core.load(f"local-dir:{folder}")
    assert model.config.n_blocks == TINY["n_blocks"] and not model.training
    state = model.state_dict()
    mapping = generator_key_map(SimSwapConfig(**{**model.spec.default_config, **TINY}))
    for official, ours in mapping.items():
        assert torch.equal(state[ours], official_files["generator"][official]), official
    for key, tensor in official_files["arcface"].items():
        assert torch.equal(state[f"identity_encoder.backbone.{key}"], tensor), key
    assert len(state) == len(mapping) + len(official_files["arcface"])


def test_swapped_roles_are_refused(simswap_plugin, official_files, tmp_path: Path):
    files = {"generator": official_files["arcface_paths"]["whole module (2023 re-upload)"],
             "identity": official_files["generator_path"]}
    with pytest.raises(WeightsError, match="generator checkpoint does not match"):
        convert("simswap-224", files, tmp_path / "out", config_overrides=TINY)
    assert not (tmp_path / "out").exists()


def test_official_checkpoints_need_simswaps_arcface(simswap_plugin, official_files, tmp_path: Path):
    from zoo_core.errors import ConfigError
    from zoo_core.nets.dlib_resnet import EMBEDDING_DIM

    files = {"generator": official_files["generator_path"],
             "identity": official_files["arcface_paths"]["whole module (2023 re-upload)"]}
    overrides = {**TINY, "identity_encoder": "dlib-resnet-128", "latent_size": EMBEDDING_DIM}
    with pytest.raises(ConfigError, match="conditioned on SimSwap's ArcFace \\(simswap-arcface\\), not on identity_encoder"):
        convert("simswap-224", files, tmp_path / "out", config_overrides=overrides)
    assert not (tmp_path / "out").exists()
