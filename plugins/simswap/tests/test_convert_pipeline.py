"""``zoo convert`` with files laid out as the official ones: a generator state dict and both
pickle formats of ``arcface_checkpoint.tar``, read by the core's restricted unpickler."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from simswap_official_layout import TINY, fill, official_arcface_layout, official_generator_layout
from torch import nn

import zoo_core
from zoo_core.convert import convert
from zoo_core.errors import WeightsError
from zoo_core.nets.identity import SimSwapArcFace


def stand_in_arcface() -> SimSwapArcFace:
    """A small ArcFace with the official attribute layout (conv1, bn1, prelu, layer1..4 of
    IRBlocks with bn0/conv1/bn1/prelu/conv2/bn2/se/downsample, bn2, fc, bn3)."""
    module = SimSwapArcFace(depth=TINY["identity_depth"], input_size=TINY["identity_input_size"])
    module.load_state_dict(fill(official_arcface_layout(TINY["identity_depth"], TINY["identity_input_size"]), seed=4))
    return module.eval()


def pre_2023_checkpoint(module: nn.Module) -> dict:
    """foamliu/InsightFace-v2's training dict, as SimSwap released it before 2023-04-25."""
    metric_fc = nn.Linear(512, 8)
    return {
        "epoch": 17,
        "epochs_since_improvement": 0,
        "model": nn.DataParallel(module),
        "metric_fc": nn.DataParallel(metric_fc),
        "optimizer": torch.optim.SGD([*module.parameters(), *metric_fc.parameters()], lr=0.1),
    }


FORMATS = {
    "dict-with-DataParallel (pre-2023)": pre_2023_checkpoint,
    "whole module (2023 re-upload)": lambda module: module,
    "bare DataParallel": nn.DataParallel,
}


@pytest.fixture(scope="module")
def official_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("official")
    generator = fill(official_generator_layout("224", n_blocks=TINY["n_blocks"], ngf=TINY["ngf"],
                                               max_channels=TINY["max_channels"]), seed=3)
    torch.save(generator, folder / "latest_net_G.pth")
    arcface = stand_in_arcface()
    paths = {}
    for index, (label, wrap) in enumerate(FORMATS.items()):
        paths[label] = folder / f"arcface_checkpoint_{index}.tar"
        torch.save(wrap(arcface), paths[label])
    return {"generator_path": folder / "latest_net_G.pth", "generator": generator,
            "arcface": arcface.state_dict(), "arcface_paths": paths}


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
