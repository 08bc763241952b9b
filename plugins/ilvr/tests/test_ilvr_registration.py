"""The ILVR specs, the real configurations' sizes, the filter and the respacing, and the config
module at start-up (the checks every plugin shares, entry point and a start-up without torch or
diffusers: tests/test_installed_plugins.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from ilvr_official_layout import images
from zoo_plugin_ilvr.resize import LowPass
from zoo_plugin_ilvr.respace import spaced_timesteps

from zoo_core import registry
from zoo_core.errors import ConfigError
from zoo_core.hub import skip_weight_init


def test_variants_and_their_specs(ilvr_plugin):
    assert registry.list_models("ilvr-*") == ["ilvr-celebahq-256", "ilvr-ffhq-256"]
    for name in ("ilvr-celebahq-256", "ilvr-ffhq-256"):
        spec = registry.get_model_spec(name)
        assert spec.capabilities == frozenset({"swap", "diffusion", "generate"})
        assert spec.loader == "zoo_plugin_ilvr.model:load" and spec.resolution == 256
        config = spec.default_config
        assert (config["timestep_respacing"], config["downsample_factor"], config["conditioning_range"]) == ("100", 16, 20)
        assert config["share_noise"] is True and config["scheduler"]["num_train_timesteps"] == 1000
    assert registry.get_model_spec("ilvr-celebahq-256").weights is None  # no verified Hub commit to pin
    assert registry.get_converters("ilvr-celebahq-256")[0].roles["unet"].example == "diffusion_pytorch_model.safetensors"
    assert registry.get_model_spec("ilvr-celebahq-256").default_config["scheduler"]["variance_type"] == "fixed_small"
    assert registry.get_model_spec("ilvr-ffhq-256").default_config["scheduler"]["variance_type"] == "learned_range"
    [converter] = registry.get_converters("ilvr-ffhq-256")
    assert converter.roles["unet"].example == "ffhq_10m.pt"


@pytest.mark.parametrize(("name", "parameters", "out_channels"), [
    ("ilvr-celebahq-256", 113_673_219, 3),  # google/ddpm-ema-celebahq-256
    ("ilvr-ffhq-256", 93_563_910, 6),  # the official UNetModel with the ffhq_10m.pt flags
])
def test_real_configurations(ilvr_plugin, name, parameters, out_channels):
    with torch.device("meta"), skip_weight_init():
        model = registry.create_model(name)
    assert sum(p.numel() for p in model.parameters()) == parameters
    assert model.unet.config.out_channels == out_channels and model.num_inference_steps == 100


def test_lowpass_matches_the_official_resizer():
    # computed once with the official resizer.py: Resizer((1,3,32,32), 1/4), then Resizer((1,3,8,8), 4)
    x = images(1, 32, 0.25)
    lowpass = LowPass(32, 4)
    down, up = lowpass.down(x), lowpass(x)
    torch.testing.assert_close(down[0, :, 2, 5], torch.tensor([-0.015482367016375065, 0.1577419638633728, 0.017489464953541756]), atol=1e-6, rtol=0)
    torch.testing.assert_close(up[0, :, 13, 7], torch.tensor([0.11909510940313339, 0.12833599746227264, -0.1484934389591217]), atol=1e-6, rtol=0)
    torch.testing.assert_close(up[0, :, 0, 31], torch.tensor([0.2685351073741913, 0.1025531217455864, 0.14420588314533234]), atol=1e-6, rtol=0)
    assert abs(up.sum().item() - 63.738983154296875) < 1e-3
    plain = F.interpolate(F.interpolate(x, scale_factor=0.25, mode="bicubic", antialias=True), scale_factor=4, mode="bicubic")
    assert (plain - up).abs().max() > 0.05  # not the same filter
    with pytest.raises(ConfigError, match="must divide the image size"):
        LowPass(32, 64)


def test_respacing_follows_the_official_spacing():
    steps = spaced_timesteps(1000, "100")
    assert len(steps) == 100 and steps[0] == 999 and steps[-1] == 0
    strides = {a - b for a, b in zip(steps, steps[1:], strict=False)}
    assert strides == {10, 11}  # fractional stride 999 / 99, rounded
    assert spaced_timesteps(1000, "ddim25") == list(range(960, -1, -40))
    assert spaced_timesteps(1000, "10,5")[:2] == [999, 874] and len(spaced_timesteps(1000, "10,5")) == 15
    assert spaced_timesteps(1000, "1000") == list(range(999, -1, -1))
    for bad in ("0", "x", "2000", "ddim999"):
        with pytest.raises(ConfigError, match="timestep_respacing"):
            spaced_timesteps(1000, bad)


def test_start_up_reads_the_torch_free_config_module(installed_ilvr: Path, zoo_start_up):
    result, modules = zoo_start_up(installed_ilvr, "ilvr", "list")
    assert "ilvr-ffhq-256" in result.stdout, result.stderr
    assert "zoo_plugin_ilvr.config" in modules


def test_step_count_override_from_the_command_line():
    """``zoo swap --set timestep_respacing=50`` parses the value as JSON, giving the number 50."""
    from zoo_plugin_ilvr.config import ILVRConfig

    assert ILVRConfig(unet={}, scheduler={}, timestep_respacing=50).timestep_respacing == "50"
    assert ILVRConfig(unet={}, scheduler={}, timestep_respacing="25,25").timestep_respacing == "25,25"
