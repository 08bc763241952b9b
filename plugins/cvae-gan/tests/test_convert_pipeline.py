"""``zoo convert`` with files laid out as Facke's: one state dict per network under
``checkpoints/<name>/<net>/<iter>.pth`` and SimSwap's ``arcface_checkpoint.tar`` (both pickle
formats), read by the core's safe readers, converted, saved and loaded back."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from cvae_gan_official_layout import TINY, fill_all, official_layouts
from zoo_testing.arcface import FORMATS, stand_in_arcface, write_checkpoints

import zoo_core
from zoo_core.convert import convert
from zoo_core.errors import WeightsError, ZooError

ROLES = ("M1", "E", "M2", "D")


@pytest.fixture(scope="module")
def official_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("facke") / "checkpoints" / "CVAE_GAN"
    nets = fill_all(official_layouts(TINY["image_size"], TINY["n_blocks"], TINY["ngf"], TINY["max_channels"]), seed=3)
    paths: dict[str, Path] = {}
    for role in ROLES:  # CVAE.save: torch.save(net.cpu().state_dict(), <net>/<iter>.pth)
        (root / role).mkdir(parents=True)
        paths[role] = root / role / "1468511_iter.pth"
        torch.save(nets[role], paths[role])
    arcface = stand_in_arcface(TINY["identity_depth"], TINY["identity_input_size"])
    return {"paths": paths, "nets": nets, "arcface": arcface.state_dict(),
            "arcface_paths": write_checkpoints(arcface, root.parent)}


@pytest.mark.parametrize("label", list(FORMATS))
def test_convert_then_load_gives_the_official_tensors(cvae_gan_plugin, official_files, tmp_path: Path, label: str):
    from zoo_plugin_cvae_gan.config import CVAEGANConfig
    from zoo_plugin_cvae_gan.convert import official_key_maps

    files = {**official_files["paths"], "identity": official_files["arcface_paths"][label]}
    folder = convert("cvae-gan-224", files, tmp_path / "converted", config_overrides=TINY)
    readme = (folder / "README.md").read_text()
    assert (folder / "model.safetensors").is_file() and "license: cc-by-nc-4.0" in readme
    assert "## Limitations" in readme

    model = zoo_core.load(f"local-dir:{folder}")
    assert model.config.n_blocks == TINY["n_blocks"] and not model.training
    state = model.state_dict()
    maps = official_key_maps(CVAEGANConfig(**{**model.spec.default_config, **TINY}))
    for role, mapping in maps.items():
        for official, ours in mapping.items():
            assert torch.equal(state[ours], official_files["nets"][role][official]), (role, official)
    for key, tensor in official_files["arcface"].items():
        assert torch.equal(state[f"identity_encoder.backbone.{key}"], tensor), key
    assert len(state) == sum(len(m) for m in maps.values()) + len(official_files["arcface"])
    source, target = torch.rand(1, 3, 32, 32), torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert model.swap(source, target, deterministic=True).shape == (2, 3, 32, 32)


def test_wrong_or_missing_roles_are_refused(cvae_gan_plugin, official_files, tmp_path: Path):
    paths = official_files["paths"]
    identity = official_files["arcface_paths"]["whole module (2023 re-upload)"]
    swapped = {**paths, "M1": paths["D"], "D": paths["M1"], "identity": identity}
    with pytest.raises(WeightsError, match="M1 checkpoint does not match Facke's M1.*looks like Facke's D"):
        convert("cvae-gan-224", swapped, tmp_path / "out", config_overrides=TINY)
    assert not (tmp_path / "out").exists()
    without_decoder = {role: path for role, path in paths.items() if role != "D"}
    with pytest.raises(ZooError, match=r"needs D=FILE \(checkpoints/CVAE_GAN/D/1468511_iter\.pth\)"):
        convert("cvae-gan-224", {**without_decoder, "identity": identity}, tmp_path / "out", config_overrides=TINY)
