"""ADM -> UNet2DModel converter: golden parity with the official UNetModel, the legacy q/k/v
order, ``zoo convert`` writing a diffusers folder, and errors naming the file.

Golden numbers: the official guided-diffusion ``UNetModel(image_size=32, model_channels=32,
out_channels=6, num_res_blocks=1, attention_resolutions=(2,), channel_mult=(1, 2),
num_head_channels=16, use_scale_shift_norm=True, resblock_updown=True)`` of jychoi118/ilvr_adm
(4 heads at 16 px and in the middle block), loaded with ``fill(tiny_adm_layout())`` and run
once on ``images(2, 32, 7.0)`` at timesteps (999, 10); our converted UNet matched it to 3.1e-6.
STEP_GOLDEN: the official ``create_gaussian_diffusion(steps=1000, learn_sigma=True,
noise_schedule="linear", timestep_respacing="10").p_mean_variance(..., clip_denoised=True)`` of
that model on ``images(1, 32, 3.0)`` at respaced indices 9, 5 and 1 (mean and log variance).
"""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from diffusers import UNet2DModel
from ilvr_official_layout import TINY_ADM, adm_layout, fill, images, tiny_adm_layout, tiny_config
from zoo_plugin_ilvr import convert as ilvr_convert

from zoo_core import registry
from zoo_core.cli import cli
from zoo_core.errors import WeightsError

ATOL = 1e-4
GOLDEN = {
    # output[0, :, 5, 7], output[1, :, 20, 11], per-sample mean, per-sample std
    "a": [0.41402941942214966, 0.4788256585597992, 0.37700971961021423, 0.18767444789409637, 1.3594366312026978, -0.7395727634429932],
    "b": [-0.08783555030822754, -0.7445600032806396, 0.7082299590110779, 0.06559759378433228, 1.2389196157455444, -1.2290115356445312],
    "mean": [-0.040386274456977844, -0.0387645922601223],
    "std": [0.6175807118415833, 0.6412211060523987],
}


STEP_GOLDEN = [
    # original timestep, mean[0, :, 5, 7], log_variance[0, :, 5, 7]
    (999, [-0.30388015508651733, 0.19400173425674438, -0.3217036724090576],
     [-0.12838615477085114, -0.12806180119514465, -0.1284269541501999]),
    (555, [-0.6862661838531494, 0.5223417282104492, -0.712856650352478],
     [-0.4538571834564209, -0.457791268825531, -0.5228396654129028]),
    (111, [-0.8835801482200623, 0.8582759499549866, -0.9999107718467712],
     [-7.519367694854736, -8.074044227600098, -12.09322738647461]),
]


def _converted(config: dict, state: dict) -> UNet2DModel:
    unet = UNet2DModel(**config["unet"]).eval()
    unet.load_state_dict({key.removeprefix("unet."): value for key, value in ilvr_convert.convert_adm({"unet": state}, config).items()})
    return unet


def _run(unet: UNet2DModel) -> torch.Tensor:
    with torch.no_grad():
        return unet(images(2, 32, 7.0), torch.tensor([999, 10])).sample


@pytest.fixture
def tiny_ffhq_config(ilvr_plugin) -> dict:
    return tiny_config(registry.get_model_spec("ilvr-ffhq-256").default_config, learned=True)


def test_converted_unet_matches_the_official_unet(tiny_ffhq_config):
    out = _run(_converted(tiny_ffhq_config, fill(tiny_adm_layout())))
    torch.testing.assert_close(out[0, :, 5, 7], torch.tensor(GOLDEN["a"]), atol=ATOL, rtol=0)
    torch.testing.assert_close(out[1, :, 20, 11], torch.tensor(GOLDEN["b"]), atol=ATOL, rtol=0)
    torch.testing.assert_close(out.mean(dim=(1, 2, 3)), torch.tensor(GOLDEN["mean"]), atol=ATOL, rtol=0)
    torch.testing.assert_close(out.std(dim=(1, 2, 3)), torch.tensor(GOLDEN["std"]), atol=ATOL, rtol=0)


def test_respaced_learned_range_step_matches_the_official_diffusion(tiny_ffhq_config):
    from diffusers import DDPMScheduler
    from zoo_plugin_ilvr.respace import spaced_timesteps

    unet = _converted(tiny_ffhq_config, fill(tiny_adm_layout()))
    scheduler = DDPMScheduler(**tiny_ffhq_config["scheduler"])
    scheduler.set_timesteps(timesteps=spaced_timesteps(1000, "10"))
    x = images(1, 32, 3.0)
    for t, mean, log_variance in STEP_GOLDEN:
        with torch.no_grad():
            output = unet(x, t).sample
        draws = [scheduler.step(output, t, x, generator=torch.Generator().manual_seed(s)).prev_sample for s in (0, 1)]
        noises = [torch.randn(x.shape, generator=torch.Generator().manual_seed(s)) for s in (0, 1)]
        std = (draws[0] - draws[1]) / (noises[0] - noises[1])  # prev = mean + std * noise
        ours_mean = draws[0] - std * noises[0]
        torch.testing.assert_close(ours_mean[0, :, 5, 7], torch.tensor(mean), atol=ATOL, rtol=0)
        torch.testing.assert_close((2 * std.log())[0, :, 5, 7], torch.tensor(log_variance), atol=1e-3, rtol=0)


def test_plain_chunk_split_of_qkv_is_wrong(tiny_ffhq_config, monkeypatch):
    def chunked(weight, heads):
        return weight.chunk(3, dim=0)

    monkeypatch.setattr(ilvr_convert, "split_legacy_qkv", chunked)
    out = _run(_converted(tiny_ffhq_config, fill(tiny_adm_layout())))
    assert (out[0, :, 5, 7] - torch.tensor(GOLDEN["a"])).abs().max() > 1e-2


def test_real_ffhq_layout_converts_with_the_official_parameter_count(ilvr_plugin):
    spec = registry.get_model_spec("ilvr-ffhq-256")
    layout = adm_layout(256, 128, (1, 1, 2, 2, 4, 4), 1, {4}, 6)  # ffhq_10m.pt: attention at 16 px
    state = {key: torch.empty(shape, device="meta") for key, shape in layout.items()}
    converted = ilvr_convert.convert_adm({"unet": state}, spec.default_config)
    assert sum(t.numel() for t in state.values()) == sum(t.numel() for t in converted.values()) == 93_563_910
    assert len(state) == 362 and len(converted) == 378  # 4 attention blocks: qkv -> to_q, to_k, to_v


def test_mismatched_checkpoint_errors_name_the_role(tiny_ffhq_config):
    state = fill(tiny_adm_layout())
    del state["middle_block.1.qkv.weight"]
    with pytest.raises(WeightsError, match="unet checkpoint does not match.*missing official keys: middle_block.1.qkv.weight"):
        ilvr_convert.convert_adm({"unet": state}, tiny_ffhq_config)
    state = fill(tiny_adm_layout())
    state["out.2.weight"] = torch.zeros(3, 32, 3, 3)
    with pytest.raises(WeightsError, match=r"'out.2.weight' has shape \(3, 32, 3, 3\)"):
        ilvr_convert.convert_adm({"unet": state}, tiny_ffhq_config)


def test_zoo_convert_writes_a_diffusers_folder_that_loads(tiny_ffhq_config, tmp_path):
    checkpoint = tmp_path / "ffhq_tiny.pt"
    torch.save(fill(tiny_adm_layout()), checkpoint)
    out = tmp_path / "converted"
    overrides = [f"--set={key}={_json(tiny_ffhq_config[key])}" for key in ("unet", "scheduler", "timestep_respacing")]
    result = CliRunner().invoke(cli, ["convert", "ilvr-ffhq-256", f"unet={checkpoint}", "--output", str(out), *overrides])
    assert result.exit_code == 0, result.output
    for name in ("model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
                 "scheduler/scheduler_config.json", "config.json", "README.md"):
        assert (out / name).is_file(), name
    from zoo_plugin_ilvr.pipeline import ILVRPipeline

    from zoo_core import hub

    model = hub.load(f"local-dir:{out}")
    torch.testing.assert_close(_run(model.unet)[0, :, 5, 7], torch.tensor(GOLDEN["a"]), atol=ATOL, rtol=0)
    pipeline = ILVRPipeline.from_pretrained(out)
    assert pipeline.config.timestep_respacing == "10" and pipeline.scheduler.config.variance_type == "learned_range"


def _json(value: object) -> str:
    import json

    return json.dumps(value)


def test_tiny_adm_has_several_heads():
    assert TINY_ADM["model_channels"] * 2 // TINY_ADM["num_head_channels"] == 4


def test_celebahq_unet_file_converts_as_is(ilvr_plugin, tmp_path):
    from safetensors.torch import save_file

    from zoo_core.convert import convert

    spec = registry.get_model_spec("ilvr-celebahq-256")
    config = tiny_config(spec.default_config)
    torch.manual_seed(0)
    unet = UNet2DModel(**config["unet"])
    save_file(unet.state_dict(), tmp_path / "diffusion_pytorch_model.safetensors")
    folder = convert("ilvr-celebahq-256", {"unet": tmp_path / "diffusion_pytorch_model.safetensors"}, tmp_path / "out",
                     config_overrides={"unet": config["unet"]})
    from zoo_core import hub

    loaded = hub.load(f"local-dir:{folder}")
    for key, value in unet.state_dict().items():
        assert torch.equal(loaded.unet.state_dict()[key], value), key
    broken = {key: value for key, value in unet.state_dict().items() if not key.startswith("mid_block")}
    with pytest.raises(WeightsError, match="unet checkpoint does not match the diffusers UNet2DModel.*mid_block"):
        ilvr_convert.convert_diffusers_unet({"unet": broken}, config)
