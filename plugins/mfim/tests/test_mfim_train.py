"""MFIM's Trainer: Table 4 presets, every loss finite with gradients reaching the encoder only
(generator frozen) or both (fine-tuned), and a few dozen steps on real faces lower the
reconstruction loss."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from mfim_tiny import TINY
from zoo_plugin_mfim.model import generator_config
from zoo_plugin_mfim.train import PRESETS, MFIMTrainConfig, MFIMTrainer

from zoo_core import registry
from zoo_core.nets.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator
from zoo_core.train.engine import TrainOptions, train
from zoo_core.train.prepare import prepare_data

FACES = Path(os.environ.get("ZOO_TEST_FACES", Path(__file__).resolve().parents[3].parent / "shared" / "faces"))
FLAME_TINY = {"layers": (1, 1, 1, 1), "width": 8, "hidden": 16, "image_size": 64}
SMALL_PHOTOS = {"id00": ("img5.jpg", "img10.jpg"), "id02": ("img50.jpg", "img51.jpg"), "id04": ("img62.jpg", "img16.jpg")}
TRAIN_TINY = {"lpips_random_init": True, "lpips_size": 64,
              "identity_overrides": {"arch": "iresnet", "depth": 18, "input_size": 32, "crop_box": None},
              "flame_overrides": FLAME_TINY}


def make_trainer(mfim_plugin, model_overrides: dict | None = None, **config) -> MFIMTrainer:
    spec = registry.get_model_spec("mfim-1024")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random frozen networks warn that their losses are meaningless
        return MFIMTrainer(spec, {**spec.default_config, **TINY, **(model_overrides or {})},
                           MFIMTrainConfig(**{**TRAIN_TINY, **config}))


def batch(n: int = 2) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"source": torch.rand(n, 3, 64, 64, generator=g), "target": torch.rand(n, 3, 64, 64, generator=g)}


def test_presets_follow_table_4(mfim_plugin):
    assert list(PRESETS) == ["A", "B", "C", "D", "E"]
    enabled = {name: [k for k, v in p.items() if v] for name, p in PRESETS.items()}
    assert enabled == {"A": [], "B": ["style_maps"], "C": ["style_maps", "shape"],
                       "D": ["style_maps", "shape", "pose"], "E": ["style_maps", "shape", "pose", "exp"]}
    a = make_trainer(mfim_plugin, preset="A")
    assert not a.model_config.style_maps and a.flame is None
    c = make_trainer(mfim_plugin, preset="C")
    assert c.weights == {"shape": 1.0, "pose": 0.0, "exp": 0.0}
    assert MFIMTrainConfig().preset == "E"


@pytest.mark.parametrize("frozen", [True, False])
def test_losses_are_finite_and_reach_the_right_networks(mfim_plugin, frozen):
    torch.manual_seed(0)
    trainer = make_trainer(mfim_plugin, {"freeze_generator": frozen})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        networks = trainer.build_networks()
    model = networks["swapper"]
    with torch.no_grad():
        for name, parameter in model.generator.named_parameters():
            if name.endswith("noise.weight"):
                parameter.fill_(0.1)
    losses = trainer.step("generator", batch(), networks, 0)
    for key in ("total", "identity", "l1", "lpips", "adversarial", "shape", "pose", "exp"):
        assert torch.isfinite(losses[key]), key
    losses["total"].backward()
    for name in ("body", "styles", "m2m", "latlayer1"):
        grads = [p.grad for n, p in model.encoder.named_parameters() if n.startswith(name) and p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), name
    generator_grads = [p.grad for p in model.generator.parameters() if p.grad is not None]
    if frozen:
        assert not generator_grads and not any(p.requires_grad for p in model.generator.parameters())
    else:
        assert generator_grads and any(g.abs().sum() > 0 for g in generator_grads)
    optimized = {id(p) for group in trainer.build_optimizers(networks)["generator"].param_groups for p in group["params"]}
    assert (id(model.generator.convs[0].conv.weight) in optimized) is not frozen
    d_losses = trainer.step("discriminator", batch(), networks, 0)
    assert all(torch.isfinite(d_losses[k]) for k in ("total", "logistic", "r1"))
    d_losses["total"].backward()
    assert all(p.grad is not None for p in networks["discriminator"].parameters())


def test_3dmm_losses_compare_the_right_images(mfim_plugin):
    trainer = make_trainer(mfim_plugin)
    b = batch()
    same_as_target = trainer.flame_losses(b["source"], b["target"], b["target"])
    assert same_as_target["pose"] == 0 and same_as_target["exp"] == 0 and same_as_target["shape"] > 0
    same_as_source = trainer.flame_losses(b["source"], b["target"], b["source"])
    assert same_as_source["shape"] == 0 and same_as_source["pose"] > 0


def test_stylegan2_checkpoint_initialises_generator_discriminator_and_mean_w(mfim_plugin, tmp_path):
    torch.manual_seed(3)
    config = generator_config(make_trainer(mfim_plugin).model_config)
    g, d = StyleGAN2Generator(config), StyleGAN2Discriminator(config)
    latent_avg = torch.randn(TINY["style_dim"])
    state = {**{f"g_ema.{k}": v for k, v in g.state_dict().items()}, **{f"d.{k}": v for k, v in d.state_dict().items()},
             "latent_avg": latent_avg}
    torch.save(state, tmp_path / "sg2.pt")
    trainer = make_trainer(mfim_plugin, stylegan2_checkpoint=str(tmp_path / "sg2.pt"))
    networks = trainer.build_networks()
    assert torch.equal(networks["swapper"].generator.convs[1].conv.weight, g.convs[1].conv.weight)
    assert torch.equal(networks["discriminator"].final_linear[0].weight, d.final_linear[0].weight)
    assert torch.equal(networks["swapper"].latent_avg[0], latent_avg)


@pytest.fixture(scope="module")
def aligned(tmp_path_factory) -> Path:
    if not (FACES / "manifest.csv").is_file():
        pytest.skip(f"real face photos not found at {FACES} (set ZOO_TEST_FACES)")
    photos = tmp_path_factory.mktemp("mfim-photos")
    for identity, names in SMALL_PHOTOS.items():  # three identities, small photos: fast detection
        (photos / identity).mkdir()
        for name in names:
            (photos / identity / name).symlink_to(FACES / "deepface" / identity / name)
    out = tmp_path_factory.mktemp("mfim-data")
    prepare_data(photos, out, template="ffhq", size=64, workers=1, progress=False)
    return out


def test_tiny_mfim_trains_and_reconstruction_falls(mfim_plugin, aligned, tmp_path):
    run = tmp_path / "run"
    options = TrainOptions(model="mfim-1024", data=aligned, output=run, max_steps=16, batch_size=2, tracker="none",
                           resolution=64, checkpoint_every=1000, sample_every=1000, log_every=2, num_workers=0,
                           model_overrides=TINY, trainer_config={**TRAIN_TINY, "lr": 1e-3})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(options)
    rows = [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]
    l1 = [r["generator/l1"] for r in rows]
    assert np.mean(l1[-3:]) < 0.8 * np.mean(l1[:2])
    for key in ("generator/total", "generator/identity", "generator/shape", "discriminator/r1"):
        assert all(np.isfinite(r[key]) for r in rows), key
