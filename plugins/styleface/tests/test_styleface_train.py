"""StyleFace's Trainer at a tiny configuration: every loss runs forward and backward, the
momentum projector follows by EMA only, K is written at the right rows, and a few dozen
engine steps on real faces lower the reconstruction loss."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from styleface_tiny import TINY
from zoo_plugin_styleface.losses import KeyBank, ellipse_face_mask, feature_matching, mask_loss
from zoo_plugin_styleface.train import StyleFaceTrainConfig, StyleFaceTrainer

import zoo_core
from zoo_core.errors import ConfigError
from zoo_core.train.engine import TrainOptions, train
from zoo_core.train.prepare import prepare_data

pytestmark = pytest.mark.filterwarnings("ignore:the recognizer has random weights")


def make_trainer(seed: int = 0, **overrides) -> tuple[StyleFaceTrainer, dict[str, torch.nn.Module]]:
    spec = zoo_core.registry.get_model_spec("styleface-256")
    torch.manual_seed(seed)
    overrides = {"fm_split_divisor": 4, **overrides}  # 64 px: D features at 64-16 are 'low', 8-4 'high'
    trainer = StyleFaceTrainer(spec, {**spec.default_config, **TINY}, StyleFaceTrainConfig(**overrides))
    networks = trainer.build_networks()
    return trainer, networks


def batch(n: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"source": torch.rand(n, 3, 64, 64, generator=g), "target": torch.rand(n, 3, 64, 64, generator=g),
            "same": torch.tensor([True, False] * (n // 2)), "source_id": torch.arange(n) % 3,
            "target_id": torch.tensor([0, 4, 2, 5][:n])}


def test_paper_hyperparameters_are_the_defaults():
    c = StyleFaceTrainConfig()
    assert (c.lambda_rec, c.lambda_icl, c.lambda_kl, c.lambda_c, c.lambda_mask, c.lambda_fm) == (10, 5, 1e-4, 1, 1, 1)
    assert (c.lr, c.lr_projector, c.beta1, c.beta2, c.momentum, c.temperature) == (1e-4, 1e-6, 0, 0.99, 0.999, 0.07)
    assert StyleFaceTrainer.sampler == "warmup" and StyleFaceTrainer.phases == ("generator", "discriminator")


def test_optimizer_groups(styleface_plugin):
    trainer, networks = make_trainer()
    generator = trainer.build_optimizers(networks)["generator"]
    main, projector = generator.param_groups
    model = networks["styleface"].model
    assert (main["lr"], projector["lr"], generator.defaults["betas"]) == (1e-4, 1e-6, (0.0, 0.99))
    assert {id(p) for p in projector["params"]} == {id(p) for p in [*model.projector.parameters(),
                                                                   *model.generator.style.parameters()]}
    trained = {id(p) for group in generator.param_groups for p in group["params"]}
    assert not trained & {id(p) for p in model.identity_encoder.parameters()}
    assert {id(p) for p in model.aae.parameters()} <= trained and {id(p) for p in model.injections.parameters()} <= trained


def test_every_generator_loss_has_gradients(styleface_plugin):
    trainer, networks = make_trainer()
    losses = trainer.step("generator", batch(), networks, step=0)
    assert set(losses) == {"total", "gan", "contrastive", "mask", "fm_low", "fm_high", "reconstruction", "icl", "kl"}
    assert all(torch.isfinite(v) for v in losses.values()) and all(v > 0 for v in losses.values())
    losses["total"].backward()
    model = networks["styleface"].model
    for part in (model.projector, model.aae, model.injections, model.generator.convs, model.generator.style):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in part.parameters())
    assert all(p.grad is None for p in model.identity_encoder.parameters())
    # the momentum projector and the key banks never receive gradients
    assert all(p.grad is None for p in networks["styleface"].momentum.parameters())


def test_each_loss_term_backpropagates(styleface_plugin):
    """Every term of Eq. 12 alone reaches the projector, the AAE path or the generator."""
    trainer, networks = make_trainer()
    terms, _ = trainer.generator_terms(batch(), networks)
    model = networks["styleface"].model
    targets = {"projector": model.projector.omega.weight, "aae": model.aae.from_rgb[0].weight,
               "generator": model.generator.convs[0].conv.weight}
    reaches = {"gan": "projector", "contrastive": "projector", "kl": "projector", "icl": "projector",
               "mask": "aae", "fm_low": "generator", "fm_high": "generator", "reconstruction": "aae"}
    for name, term in terms.items():
        (grad,) = torch.autograd.grad(term, targets[reaches[name]], retain_graph=True, allow_unused=True)
        assert grad is not None and grad.abs().sum() > 0, name


def test_momentum_projector_follows_by_ema(styleface_plugin):
    trainer, networks = make_trainer(momentum=0.9)
    training = networks["styleface"]
    model = training.model
    optimizer = trainer.build_optimizers(networks)["generator"]
    for group in optimizer.param_groups:
        group["lr"] = 1e-2
    before = [p.clone() for p in training.momentum.parameters()]
    trainer.step("generator", batch(), networks, step=0)["total"].backward()
    optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(before, training.momentum.parameters(), strict=True))
    live = [p.detach().clone() for p in [*model.projector.omega.parameters(), *model.generator.style.parameters()]]
    training.momentum.update(model.projector, model.generator)
    for old, new, theta in zip(before, training.momentum.parameters(), live, strict=True):
        torch.testing.assert_close(new, 0.9 * old + 0.1 * theta)


def test_key_bank_rows_are_written_at_the_identity_index(styleface_plugin):
    trainer, networks = make_trainer()
    training = networks["styleface"]
    training.banks[0].grow(8)
    old = [bank.keys.clone() for bank in training.banks]
    data = batch()
    features = training.model.recognize(data["target"])
    queries = torch.randn(4, 3, 64)
    torch.manual_seed(1)
    trainer.contrastive_loss(training, queries, features, data["source_id"], data["target_id"])
    torch.manual_seed(1)
    expected = training.momentum(features)
    written = data["target_id"].tolist()  # [0, 4, 2, 5]
    for level, bank in enumerate(training.banks):
        assert bank.keys.shape == (8 if level == 0 else 6, 64)
        for row, identity in enumerate(written):
            torch.testing.assert_close(bank.keys[identity], torch.nn.functional.normalize(expected[row, level], dim=0))
        untouched = [i for i in range(old[level].shape[0]) if i not in written]
        assert torch.equal(bank.keys[untouched], old[level][untouched])


def test_key_bank_checkpoint_restores_its_size():
    bank = KeyBank(0, 4)
    bank.grow(5)
    fresh = KeyBank(0, 4)
    fresh.load_state_dict(bank.state_dict())
    assert torch.equal(fresh.keys, bank.keys)


def test_discriminator_phase_with_lazy_r1(styleface_plugin):
    trainer, networks = make_trainer(r1_every=4)
    trainer.step("generator", batch(), networks, step=0)
    with_r1 = trainer.step("discriminator", batch(), networks, step=0)
    without = trainer.step("discriminator", batch(), networks, step=1)
    assert "r1" in with_r1 and with_r1["r1"] > 0 and "r1" not in without
    with_r1["total"].backward()
    assert all(p.grad is not None for p in networks["discriminator"].parameters())


def test_generator_pretraining_stage(styleface_plugin):
    trainer, networks = make_trainer(pretrain_steps=2)
    optimizer = trainer.build_optimizers(networks)["generator"]
    losses = trainer.step("generator", batch(), networks, step=0)
    assert set(losses) == {"total", "gan"} and optimizer.param_groups[1]["lr"] == 1e-4
    losses["total"].backward()
    model = networks["styleface"].model
    assert all(p.grad is None for p in model.aae.parameters())
    assert all(p.grad is not None for p in model.generator.convs.parameters())
    trainer.step("generator", batch(), networks, step=2)
    assert optimizer.param_groups[1]["lr"] == 1e-6


def test_feature_matching_and_mask_loss():
    fake = [torch.ones(2, 3, 8, 8), torch.ones(2, 3, 2, 2)]
    real = [torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 2, 2)]
    low, high = feature_matching(fake, real, torch.zeros(1, 1, 8, 8), split=4)
    assert low == 0 and high == pytest.approx(3**0.5, rel=1e-6)
    low, _ = feature_matching(fake, real, torch.ones(1, 1, 8, 8), split=4)
    assert low == pytest.approx(3**0.5, rel=1e-6)
    masks = [torch.full((2, 4, 2, 2), 0.5), torch.full((2, 1, 4, 4), 0.25)]
    assert mask_loss(masks) == pytest.approx(0.75)
    assert mask_loss(masks, "sum") == pytest.approx(0.5 * 16 + 0.25 * 16)


def test_fallback_background_mask_covers_the_face(styleface_plugin):
    from zoo_core.faces.align import get_template

    face = ellipse_face_mask(get_template("ffhq").points[0], 64)[0, 0]
    assert face[36, 32] == 1 and face[2, 2] == 0 and face[60, 2] == 0
    assert 0.2 < face.mean() < 0.6


def test_unknown_face_parser_is_a_config_error(styleface_plugin):
    with pytest.raises(ConfigError, match="face_parser"):
        make_trainer(face_parser="bisenet")


@pytest.fixture(scope="module")
def aligned(faces_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("styleface-data")
    prepare_data(faces_dir / "face_recognition", out, template="ffhq", size=64, workers=1, progress=False)
    return out


def test_tiny_styleface_trains_and_reconstruction_falls(styleface_plugin, aligned, tmp_path):
    run = tmp_path / "run"
    options = TrainOptions(model="styleface-256", data=aligned, output=run, max_steps=20, batch_size=2,
                           tracker="none", resolution=64, checkpoint_every=1000, sample_every=1000, log_every=4,
                           num_workers=0, model_overrides=TINY,
                           trainer_config={"lr": 4e-3, "lr_projector": 4e-3, "warmup_steps": 1000, "r1_every": 4,
                                           "fm_split_divisor": 4})
    final = train(options)
    rows = [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]
    rec = [r["generator/reconstruction"] for r in rows]  # mean of 4 steps each, nearly all same-identity pairs
    assert np.mean(rec[-2:]) < 0.75 * np.mean(rec[:2]), rec
    assert all(np.isfinite(r["generator/total"]) and np.isfinite(r["discriminator/total"]) for r in rows)
    model = zoo_core.load(f"local-dir:{final}")
    with torch.no_grad():
        assert model.deidentify(torch.rand(1, 3, 64, 64), torch.Generator().manual_seed(0)).shape == (1, 3, 64, 64)


def test_starts_from_a_stylegan2_checkpoint_and_recognizer_weights(styleface_plugin, tmp_path):
    """A rosinality-layout checkpoint (g_ema, d) and a recognizer state dict are loaded."""
    _, source = make_trainer()
    model, discriminator = source["styleface"].model, source["discriminator"]
    checkpoint, identity = tmp_path / "stylegan2.pt", tmp_path / "backbone.pth"
    torch.save({"g_ema": model.generator.state_dict(), "d": discriminator.state_dict(),
                "latent_avg": torch.zeros(64)}, checkpoint)
    torch.save(model.identity_encoder.backbone.state_dict(), identity)
    trainer, networks = make_trainer(stylegan2_checkpoint=str(checkpoint), identity_weights=str(identity))
    loaded = networks["styleface"].model
    for mine, theirs in ((loaded.generator, model.generator), (networks["discriminator"], discriminator),
                         (loaded.identity_encoder, model.identity_encoder)):
        for (name, a), b in zip(mine.state_dict().items(), theirs.state_dict().values(), strict=True):
            assert torch.equal(a, b), name
    # a fresh trainer without them starts elsewhere (and says the recognizer is random)
    with pytest.warns(UserWarning, match="random weights"):
        _, fresh = make_trainer(seed=1)
    assert not torch.equal(fresh["styleface"].model.generator.conv1.conv.weight, model.generator.conv1.conv.weight)
