"""MFIM's Trainer: the Table 4 presets switch style maps and 3DMM losses, every loss term is the
paper's formula (Eq. 1-6, written out here) with gradients reaching the encoder only (generator
frozen) or both (fine-tuned), and a few dozen steps on real faces lower the reconstruction loss."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from mfim_tiny import TINY
from zoo_plugin_mfim.deca_crop import deca_crop_aligned
from zoo_plugin_mfim.model import generator_config
from zoo_plugin_mfim.train import MFIMTrainConfig, MFIMTrainer

from zoo_core import registry
from zoo_core.nets.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator
from zoo_core.train.engine import TrainOptions, train
from zoo_core.train.prepare import prepare_data

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


LAMBDAS = {"lambda_id": 0.3, "lambda_recon": 0.7, "lambda_adv": 0.11, "lambda_r1": 0.4, "r1_gamma": 6.0,
           "lambda_shape": 1.3, "lambda_pose": 1.7, "lambda_exp": 2.3}
"""Distinct weights: a term counted with another term's weight changes the total."""

TABLE_4 = {"A": (False, ()), "B": (True, ()), "C": (True, ("shape",)), "D": (True, ("shape", "pose")),
           "E": (True, ("shape", "pose", "exp"))}
"""The rows of the paper's Table 4: style maps used, and the 3DMM losses added so far."""


def _cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1))


def _softplus(x: torch.Tensor) -> torch.Tensor:
    return torch.log1p(torch.exp(x))


def expected_generator_losses(trainer: MFIMTrainer, networks: dict, b: dict, terms: tuple[str, ...]) -> dict:
    """Eq. 1-6 written out for the swap of ``b["source"]`` into ``b["target"]`` (64 px: no resize);
    R, LPIPS (whose own formula test_mfim_lpips checks), D and DECA are the trainer's networks."""
    source, target = b["source"], b["target"]
    with torch.no_grad():
        swap = networks["swapper"](source, target)
        out = {
            "identity": (1 - _cos(trainer.identity(swap), trainer.identity(source))).mean(),  # Eq. 1
            "l1": (swap - target).abs().mean(),  # Eq. 2
            "lpips": trainer.lpips(swap * 2 - 1, target * 2 - 1).mean(),
            "adversarial": _softplus(-networks["discriminator"](swap * 2 - 1)).mean(),  # -log sigmoid D(G)
        }
        size = FLAME_TINY["image_size"]
        images = {"swap": swap, "source": source, "target": target} if terms else {}
        params = {name: trainer.flame.encode(deca_crop_aligned(x, size)) for name, x in images.items()}
        reference = {"shape": "source", "pose": "target", "exp": "target"}  # Eq. 3-5
        for name in terms:
            out[name] = (params["swap"][name] - params[reference[name]][name]).pow(2).sum(dim=1).sqrt().mean()
    return {**out, "total": eq6(out, terms)}


def eq6(values: dict, terms: tuple[str, ...]) -> torch.Tensor:
    """Eq. 6 without L_R1 (the discriminator's) over the 3DMM ``terms`` of a Table 4 row."""
    return (LAMBDAS["lambda_id"] * values["identity"] + LAMBDAS["lambda_recon"] * (values["l1"] + values["lpips"])
            + LAMBDAS["lambda_adv"] * values["adversarial"] + sum(LAMBDAS[f"lambda_{n}"] * values[n] for n in terms))


def expected_discriminator_losses(trainer: MFIMTrainer, networks: dict, b: dict) -> dict:
    """Logistic loss on real targets and the swap, R1 = gamma / 2 E ||grad_x D(x)||^2 on the reals."""
    discriminator = networks["discriminator"]
    real = (b["target"] * 2 - 1).requires_grad_(True)
    logits = discriminator(real)
    (grad,) = torch.autograd.grad(logits.sum(), real)
    with torch.no_grad():
        swap = networks["swapper"](b["source"], b["target"])
        logistic = _softplus(-logits).mean() + _softplus(discriminator(swap * 2 - 1)).mean()
    r1 = LAMBDAS["r1_gamma"] / 2 * grad.pow(2).sum(dim=(1, 2, 3)).mean()
    return {"logistic": logistic, "r1": r1, "total": logistic + LAMBDAS["lambda_r1"] * r1}


def _close(actual: torch.Tensor, expected: torch.Tensor, name: str) -> None:
    torch.testing.assert_close(actual.detach(), expected.detach(), rtol=1e-4, atol=1e-6, msg=lambda m: f"{name}: {m}")


def _noise_inputs(networks: dict, source: torch.Tensor, targets: tuple[torch.Tensor, ...], monkeypatch) -> list:
    """The generator's noise inputs in a swap of ``source`` into each target (M2M given weights:
    it starts at zero) and the generator's own noise buffers."""
    model = networks["swapper"]
    generator = model.generator
    seen: list[list[torch.Tensor]] = []
    synthesis = generator.synthesis
    monkeypatch.setattr(generator, "synthesis", lambda *a, **kw: seen.append(kw["noise"]) or synthesis(*a, **kw))
    with torch.no_grad():
        for block in model.encoder.m2m:
            torch.nn.init.normal_(block.conv2.weight, std=0.1)
        for target in targets:
            model(source, target)
    return [seen, [getattr(generator.noises, f"noise_{i}") for i in range(generator.num_layers)]]


def test_presets_switch_the_table_4_components(mfim_plugin, monkeypatch):
    b = batch(1)
    built: dict[bool, dict] = {}
    for preset, (maps, terms) in TABLE_4.items():
        torch.manual_seed(0)
        trainer = make_trainer(mfim_plugin, preset=preset, **LAMBDAS)
        if maps not in built:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                built[maps] = networks = trainer.build_networks()
            (first, second), own = _noise_inputs(networks, b["source"], (b["target"], b["source"]), monkeypatch)
            from_target = [i for i, noise in enumerate(first) if noise is not own[i]]
            if maps:  # style maps replace noise inputs and follow the target
                assert from_target and all(not torch.equal(first[i], second[i]) for i in from_target), preset
            else:
                assert not from_target, preset
        with torch.no_grad():
            losses, _ = trainer.generator_losses(b, built[maps])
        assert {"shape", "pose", "exp"} & set(losses) == set(terms), preset
        _close(losses["total"], eq6(losses, terms), preset)  # each term's own formula: the next test


@pytest.mark.parametrize("frozen", [True, False])
def test_losses_follow_eq_1_to_6_and_reach_the_right_networks(mfim_plugin, frozen):
    torch.manual_seed(0)
    trainer = make_trainer(mfim_plugin, {"freeze_generator": frozen}, **LAMBDAS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        networks = trainer.build_networks()
    model = networks["swapper"]
    with torch.no_grad():
        for name, parameter in model.generator.named_parameters():
            if name.endswith("noise.weight"):
                parameter.fill_(0.1)
    losses = trainer.step("generator", batch(), networks, 0)
    expected = expected_generator_losses(trainer, networks, batch(), ("shape", "pose", "exp"))  # default: E
    for key in ("total", "identity", "l1", "lpips", "adversarial", "shape", "pose", "exp"):
        assert torch.isfinite(losses[key]), key
        _close(losses[key], expected[key], key)
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
    for key, value in expected_discriminator_losses(trainer, networks, batch()).items():
        _close(d_losses[key], value, key)
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
def aligned(faces_dir, tmp_path_factory) -> Path:
    photos = tmp_path_factory.mktemp("mfim-photos")
    for identity, names in SMALL_PHOTOS.items():  # three identities, small photos: fast detection
        (photos / identity).mkdir()
        for name in names:
            (photos / identity / name).symlink_to(faces_dir / "deepface" / identity / name)
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
