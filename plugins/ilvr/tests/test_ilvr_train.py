"""ILVR fine-tuning on the core engine: the hybrid loss on a tiny learned-variance UNet falls on
real faces, and its pieces match their closed forms."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from ilvr_official_layout import tiny_config
from PIL import Image
from zoo_plugin_ilvr.train import ILVRTrainConfig, discretized_gaussian_log_likelihood, normal_kl

import zoo_core
from zoo_core import registry
from zoo_core.train.engine import TrainOptions, train


def test_defaults_and_closed_forms():
    config = ILVRTrainConfig()
    assert (config.lr, config.weight_decay, config.ema_decay) == (1e-4, 0.0, 0.9999)
    zero = torch.zeros(4)
    assert torch.allclose(normal_kl(zero, zero, zero, zero), zero)
    assert torch.allclose(normal_kl(zero + 1, zero, zero, zero), zero + 0.5)  # (mu1 - mu2)^2 / 2
    x = torch.linspace(-1, 1, 256)
    probability = discretized_gaussian_log_likelihood(x, x * 0, torch.full_like(x, math.log(0.5))).exp().sum()
    assert abs(probability.item() - 1.0) < 1e-3  # the 256 bins hold the whole mass


@pytest.fixture(scope="module")
def faces32(faces_dir, tmp_path_factory) -> Path:
    """The shared photos as a face folder (one identity per person), centre-cropped to 32 px."""
    out = tmp_path_factory.mktemp("ilvr-data")
    for photo in sorted((faces_dir / "face_recognition").glob("*/*")):
        image = Image.open(photo).convert("RGB")
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        (out / photo.parent.name).mkdir(exist_ok=True)
        image.crop((left, top, left + side, top + side)).resize((32, 32), Image.BICUBIC).save(out / photo.parent.name / f"{photo.stem}.png")
    return out


def test_tiny_ddpm_fine_tunes_and_the_loss_falls(ilvr_plugin, faces32, tmp_path):
    spec = registry.get_model_spec("ilvr-ffhq-256")
    model = {k: v for k, v in tiny_config(spec.default_config, learned=True, downsample_factor=8).items()
             if k in ("unet", "scheduler", "timestep_respacing", "downsample_factor")}
    run = tmp_path / "run"
    torch.manual_seed(0)
    final = train(TrainOptions(model="ilvr-ffhq-256", data=faces32, output=run, max_steps=16, batch_size=4,
                               tracker="none", resolution=32, checkpoint_every=1000, sample_every=1000, log_every=2,
                               num_workers=0, model_overrides=model, trainer_config={"lr": 3e-3, "ema_decay": 0.9}))
    rows = [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]
    totals = [r["denoiser/total"] for r in rows]
    assert np.mean(totals[-3:]) < 0.7 * np.mean(totals[:2])  # a clear drop
    assert all(np.isfinite(r["denoiser/vb"]) and r["denoiser/vb"] > 0 for r in rows)
    loaded = zoo_core.load(f"local-dir:{final}")
    assert (Path(final) / "model_index.json").is_file() and loaded.unet.config.out_channels == 6
