"""`zoo swap` end to end on real photos with a tiny random UNet in place of the CelebA-HQ DDPM,
and the save / load round trips (zoo folder and diffusers folder, offline)."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from zoo_core import hub, registry
from zoo_core.cli import cli

TINY_256 = {
    "sample_size": 256, "in_channels": 3, "out_channels": 3, "layers_per_block": 1,
    "block_out_channels": [8, 16, 16], "down_block_types": ["DownBlock2D"] * 3, "up_block_types": ["UpBlock2D"] * 3,
    "norm_num_groups": 8, "add_attention": False,
}
"""A DDPM-style UNet at the variant's 256 px, small enough for CPU tests."""


@pytest.fixture
def tiny_celebahq(ilvr_plugin, monkeypatch):
    """ilvr-celebahq-256 registered with the tiny UNet and 5 respaced steps as its defaults."""
    from zoo_plugin_ilvr.config import CELEBAHQ

    monkeypatch.setattr(ilvr_plugin, "CELEBAHQ", CELEBAHQ.model_copy(update={"unet": TINY_256, "timestep_respacing": "3"}))
    return registry.get_model_spec("ilvr-celebahq-256")


def test_zoo_swap_end_to_end_with_a_tiny_unet(tiny_celebahq, swap_photos, assert_face_swapped, tmp_path):
    source, target = swap_photos
    out = tmp_path / "swap.png"
    result = CliRunner().invoke(cli, ["swap", "--model", "ilvr-celebahq-256", "--random-init", "--seed", "0",
                                      "--source", str(source), "--target", str(target), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert_face_swapped(target, out, "ilvr-celebahq-256")


def test_saved_folder_is_a_diffusers_pipeline_and_loads_offline(tiny_celebahq, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)
    model = registry.create_model("ilvr-celebahq-256", conditioning_range=2, share_noise=False)
    folder = hub.save_pretrained(model, tmp_path / "saved")
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "ILVRPipeline" and index["unet"] == ["diffusers", "UNet2DModel"]
    assert (index["conditioning_range"], index["share_noise"], index["timestep_respacing"]) == (2, False, "3")
    assert hub.weight_files(folder) == [folder / "unet" / "diffusion_pytorch_model.safetensors"]
    assert not (folder / "model.safetensors").exists()

    loaded = hub.load(f"local-dir:{folder}")
    assert type(loaded).__name__ == "ILVRModel" and loaded.config.conditioning_range == 2
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key

    from zoo_plugin_ilvr.pipeline import ILVRPipeline

    pipeline = ILVRPipeline.from_pretrained(folder)
    assert pipeline.config.conditioning_range == 2 and not pipeline.config.share_noise
    target = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(1))
    a = pipeline(target, target, generator=torch.Generator().manual_seed(2)).images
    b = loaded.pipeline(target, target, generator=torch.Generator().manual_seed(2)).images
    assert torch.equal(a, b)
    pipeline.save_pretrained(tmp_path / "again")
    assert ILVRPipeline.from_pretrained(tmp_path / "again").config.conditioning_range == 2


def test_zoo_swap_from_a_saved_folder(tiny_celebahq, swap_photos, assert_face_swapped, tmp_path):
    source, target = swap_photos
    torch.manual_seed(0)
    folder = hub.save_pretrained(registry.create_model("ilvr-celebahq-256"), tmp_path / "saved")
    out = tmp_path / "swap.png"
    result = CliRunner().invoke(cli, ["swap", "--model", f"local-dir:{folder}", "--seed", "1",
                                      "--source", str(source), "--target", str(target), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert_face_swapped(target, out, "ilvr-celebahq-256")


def test_loading_a_folder_without_a_unet_names_the_file(ilvr_plugin, tmp_path):
    from zoo_plugin_ilvr.model import load

    from zoo_core.errors import WeightsError

    with pytest.raises(WeightsError, match="unet/config.json: missing"):
        load(registry.get_model_spec("ilvr-ffhq-256"), tmp_path, registry.get_model_spec("ilvr-ffhq-256").default_config)


def test_a_ddpm_pipeline_repository_loads_as_is(ilvr_plugin, tmp_path, monkeypatch):
    """The layout of google/ddpm-ema-celebahq-256: a DDPMPipeline folder (model_index.json, unet/, scheduler/)."""
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel
    from zoo_plugin_ilvr.model import load
    from zoo_plugin_ilvr.pipeline import ILVRPipeline

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)
    unet = UNet2DModel(**TINY_256)
    DDPMPipeline(unet=unet, scheduler=DDPMScheduler(variance_type="fixed_small")).save_pretrained(tmp_path / "repo")
    pipeline = ILVRPipeline.from_pretrained(tmp_path / "repo")
    assert type(pipeline).__name__ == "ILVRPipeline" and pipeline.config.downsample_factor == 16
    spec = registry.get_model_spec("ilvr-celebahq-256")
    model = load(spec, tmp_path / "repo", spec.default_config)
    assert model.config.unet["block_out_channels"] == [8, 16, 16]
    for key, value in unet.state_dict().items():
        assert torch.equal(model.unet.state_dict()[key], value), key
