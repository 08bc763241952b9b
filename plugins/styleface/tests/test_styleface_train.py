"""StyleFace's Trainer at a tiny configuration: every term of Eq. 12 against the paper's
formula written out here, Eq. 12's weights, the momentum projector (EMA only, also while
pre-training), K[j] refreshed from a second photo of identity j, the warm-up schedule, and an
engine run on real faces with dlib's recognizer and cross-identity pairs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from styleface_tiny import TINY
from zoo_plugin_styleface.losses import KeyBank, ellipse_face_mask, feature_matching, mask_loss
from zoo_plugin_styleface.train import StyleFaceTrainConfig, StyleFaceTrainer

import zoo_core
from zoo_core.errors import ConfigError
from zoo_core.train.data import FaceFolder
from zoo_core.train.engine import Engine, TrainOptions
from zoo_core.train.samplers import SAMPLERS

pytestmark = pytest.mark.filterwarnings("ignore:the recognizer has random weights")


def make_trainer(seed: int = 0, **overrides) -> tuple[StyleFaceTrainer, dict[str, torch.nn.Module]]:
    spec = zoo_core.registry.get_model_spec("styleface-256")
    torch.manual_seed(seed)
    overrides = {"fm_split_divisor": 4, **overrides}  # 64 px: D features at 64-16 are 'low', 8-4 'high'
    trainer = StyleFaceTrainer(spec, {**spec.default_config, **TINY}, StyleFaceTrainConfig(**overrides))
    networks = trainer.build_networks()
    return trainer, networks


def batch(n: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    """Pairs 0 and 2 same-identity (0-0, 2-2), 1 and 3 across identities (1-4, 0-5)."""
    g = torch.Generator().manual_seed(seed)
    return {"source": torch.rand(n, 3, 64, 64, generator=g), "target": torch.rand(n, 3, 64, 64, generator=g),
            "source_positive": torch.rand(n, 3, 64, 64, generator=g),
            "same": torch.tensor([True, False] * (n // 2)), "source_id": torch.arange(n) % 3,
            "target_id": torch.tensor([0, 4, 2, 5][:n])}


def test_total_is_eq_12_with_the_papers_weights(styleface_plugin, monkeypatch):
    """L_GAN + L_c + L_mask + L_FM + 10 L_rec + 5 L_ICL + 1e-4 L_KL on hand-set term values."""
    trainer, networks = make_trainer()
    values = {"gan": 2.0, "contrastive": 3.0, "mask": 5.0, "fm_low": 7.0, "fm_high": 11.0, "reconstruction": 13.0,
              "icl": 17.0, "kl": 19.0}
    terms = {name: torch.tensor(value) for name, value in values.items()}
    monkeypatch.setattr(trainer, "generator_terms", lambda _batch, _networks: (terms, torch.zeros(1, 3, 64, 64)))
    losses, _ = trainer.generator_losses(batch(), networks)
    assert losses["total"].item() == pytest.approx(2 + 3 + 5 + (7 + 11) + 10 * 13 + 5 * 17 + 1e-4 * 19)
    assert {k: v.item() for k, v in losses.items() if k != "total"} == values


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


def discriminator_maps(discriminator: torch.nn.Module, image: torch.Tensor) -> tuple[torch.Tensor, list]:
    maps: list[torch.Tensor] = []
    hooks = [block.register_forward_hook(lambda _m, _i, out: maps.append(out)) for block in discriminator.convs]
    logits = discriminator(image)
    for hook in hooks:
        hook.remove()
    return logits, maps


def cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))


def test_each_loss_term_is_the_papers_formula(styleface_plugin):
    """Every term of Eq. 12 on a hand-built batch equals its formula computed here from the
    swap, the masks, mu/logvar, w, the key banks and the discriminator; the wrong pair or sign
    would give another value (checked too)."""
    from zoo_core.faces.align import get_template

    trainer, networks = make_trainer()
    training, discriminator = networks["styleface"], networks["discriminator"]
    model = training.model
    seen: dict = {}
    hook = training.register_forward_hook(lambda _m, _i, out: seen.update(out))
    data = batch()
    terms, fake = trainer.generator_terms(data, networks)
    hook.remove()
    source, target, same = data["source"], data["target"], data["same"]
    with torch.no_grad():
        assert torch.equal(fake, seen["image"])
        logits, fake_maps = discriminator_maps(discriminator, fake)
        _, real_maps = discriminator_maps(discriminator, target * 2 - 1)
        e_y, e_s, e_t = (model.recognize(x) for x in ((fake + 1) / 2, source, target))
        torch.testing.assert_close(terms["gan"], torch.log1p(torch.exp(-logits)).mean())  # -log sigmoid(D(Y))
        # Eq. 1
        mu, logvar = seen["mu"], seen["logvar"]
        kl = 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(dim=(1, 2)).mean()
        torch.testing.assert_close(terms["kl"], kl)
        # Eq. 3: -log softmax(w^j . K / tau)[j], unit vectors, summed over the three levels
        contrastive = wrong = 0.0
        other = (data["source_id"] + 1) % 3  # another identity's row as the positive
        for level, bank in enumerate(training.banks):
            q = F.normalize(seen["w"][:, level], dim=1)
            logits_c = q @ bank.keys.t() / 0.07
            contrastive = contrastive + (logits_c.logsumexp(1) - logits_c[torch.arange(4), data["source_id"]]).mean()
            wrong = wrong + (logits_c.logsumexp(1) - logits_c[torch.arange(4), other]).mean()
        torch.testing.assert_close(terms["contrastive"], contrastive)
        assert not torch.isclose(terms["contrastive"], wrong)
        # Eq. 6 (mean reduction): sum over the masks of the mean |M|
        torch.testing.assert_close(terms["mask"], sum(m.abs().mean() for m in seen["masks"]))
        # Eq. 8-9: channel L2 distance of D's maps; shallow maps (>= 16 px) weighted by M_bg
        face = ellipse_face_mask(get_template("ffhq").points[0], 64)
        low = high = 0.0
        for f, r in zip(fake_maps, real_maps, strict=True):
            distance = (f - r).norm(dim=1, keepdim=True)
            if f.shape[-1] >= 16:
                low = low + (F.interpolate(1 - face, size=f.shape[-2:], mode="area") * distance).mean()
            else:
                high = high + distance.mean()
        torch.testing.assert_close(terms["fm_low"], low)
        torch.testing.assert_close(terms["fm_high"], high)
        # Eq. 7 on the same-identity pairs, images in [-1, 1]
        reconstruction = (fake[same] - (2 * target[same] - 1)).abs().mean()
        torch.testing.assert_close(terms["reconstruction"], reconstruction)
        assert not torch.isclose(terms["reconstruction"], (fake - (2 * target - 1)).abs().mean())
        # Eq. 11
        icl = (1 - cos(e_y, e_s) + (cos(e_y, e_t) - cos(e_s, e_t)) ** 2).mean()
        torch.testing.assert_close(terms["icl"], icl)
        swapped_pair = (1 - cos(e_y, e_t) + (cos(e_y, e_s) - cos(e_s, e_t)) ** 2).mean()
        assert not torch.isclose(terms["icl"], swapped_pair)


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
    """Eq. 3: K[j] <- P_θ'(X^{j'}) for each source identity j, from the second photo X^{j'};
    the targets' identities (4, 5) and the other rows keep their keys."""
    trainer, networks = make_trainer()
    training = networks["styleface"]
    training.banks[0].grow(8)
    old = [bank.keys.clone() for bank in training.banks]
    data = batch()
    features = training.model.recognize(data["source_positive"])
    queries = torch.randn(4, 3, 64)
    torch.manual_seed(1)
    trainer.contrastive_loss(training, queries, features, data["source_id"])
    torch.manual_seed(1)
    expected = training.momentum(features)
    written = data["source_id"].tolist()  # [0, 1, 2, 0]: identity 0 twice, one of its keys is kept
    for level, bank in enumerate(training.banks):
        assert bank.keys.shape == (8 if level == 0 else 3, 64)
        for identity in set(written):
            rows = [F.normalize(expected[i, level], dim=0) for i, j in enumerate(written) if j == identity]
            assert any(torch.allclose(bank.keys[identity], row) for row in rows)
        untouched = [i for i in range(old[level].shape[0]) if i not in written]
        assert torch.equal(bank.keys[untouched], old[level][untouched])


def test_a_step_takes_the_positive_keys_from_the_second_photos(styleface_plugin):
    """Through a whole generator step: with sigma ~ 0 the keys are deterministic, and K[j] holds
    the momentum code of X^{j'} (``source_positive``), not of the source or the target."""
    trainer, networks = make_trainer()
    training = networks["styleface"]
    z_dim = 3 * 64
    for projector in (training.model.projector, training.momentum.projector):
        with torch.no_grad():
            projector.omega.bias[z_dim:] = -60.0  # log-variance: sigma = exp(-30)
    data = batch()
    trainer.generator_terms(data, networks)
    with torch.no_grad():
        keys = {name: training.momentum.style(training.momentum.projector(training.model.recognize(data[name]))[0]
                                              .flatten(0, 1)).view(4, 3, 64)
                for name in ("source_positive", "source", "target")}
    bank = training.banks[1]
    for row, identity in ((1, 1), (2, 2)):  # identities seen once as a source
        torch.testing.assert_close(bank.keys[identity], F.normalize(keys["source_positive"][row, 1], dim=0))
        for other in ("source", "target"):
            assert not torch.allclose(bank.keys[identity], F.normalize(keys[other][row, 1], dim=0), atol=1e-3)


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
    trainer, networks = make_trainer(pretrain_steps=2, momentum=0.75)
    optimizer = trainer.build_optimizers(networks)["generator"]
    training = networks["styleface"]
    model = training.model
    with torch.no_grad():  # the live mapping network moved away from its momentum copy
        for p in model.generator.style.parameters():
            p.add_(1.0)
    before = [p.clone() for p in training.momentum.style.parameters()]
    losses = trainer.step("generator", batch(), networks, step=0)
    assert set(losses) == {"total", "gan"} and optimizer.param_groups[1]["lr"] == 1e-4
    # θ' <- m θ' + (1 - m) θ while pre-training too
    for old, new, live in zip(before, training.momentum.style.parameters(), model.generator.style.parameters(),
                              strict=True):
        torch.testing.assert_close(new, 0.75 * old + 0.25 * live)
    losses["total"].backward()
    assert all(p.grad is None for p in model.aae.parameters())
    assert all(p.grad is not None for p in model.generator.convs.parameters())
    trainer.step("generator", batch(), networks, step=2)
    assert optimizer.param_groups[1]["lr"] == 1e-6


def test_warmup_starts_with_swap_training(styleface_plugin, aligned_faces, tmp_path):
    """Same-identity pairs: 100% through pre-training and at its end, then down to 50% over
    ``warmup_steps`` optimizer steps, whatever the gradient accumulation."""
    trainer, _ = make_trainer(pretrain_steps=100, warmup_steps=40)
    sampler = SAMPLERS[trainer.sampler](FaceFolder.scan(aligned_faces), 400, 0, **trainer.sampler_options)
    assert [sampler.same_ratio(step) for step in (0, 100, 120, 140, 1000)] == [1.0, 1.0, 0.75, 0.5, 0.5]
    options = TrainOptions(model="styleface-256", data=aligned_faces, output=tmp_path / "run", max_steps=1,
                           batch_size=400, grad_accum=4, tracker="none", resolution=64, num_workers=0,
                           model_overrides=TINY, trainer_config={"pretrain_steps": 100, "warmup_steps": 40,
                                                                 "fm_split_divisor": 4})
    engine = Engine(options)
    assert engine.sampler.pairs(4 * 100 + 3)[2].all()  # the last micro-batch of step 100
    assert abs(engine.sampler.pairs(4 * 120)[2].mean() - 0.75) < 0.08


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


def test_tiny_styleface_trains_on_real_faces_with_dlib(styleface_plugin, aligned_faces, tmp_path):
    """The engine with dlib's recognizer (FR of Eq. 2 and 11) on real faces, half the pairs
    across identities after a 4-step warm-up: finite losses, L_rec on the same-identity pairs
    falls, and the exported model swaps with dlib's encoder inside."""
    run = tmp_path / "run"
    overrides = {**TINY, "identity_encoder": "dlib-resnet-128", "identity_dim": 128}
    options = TrainOptions(model="styleface-256", data=aligned_faces, output=run, max_steps=16, batch_size=2,
                           tracker="none", resolution=64, checkpoint_every=1000, sample_every=1000, log_every=4,
                           num_workers=0, model_overrides=overrides,
                           trainer_config={"lr": 4e-3, "lr_projector": 4e-3, "warmup_steps": 4, "r1_every": 8,
                                           "fm_split_divisor": 4})
    engine = Engine(options)
    same = np.concatenate([engine.sampler.pairs(step)[2] for step in range(16)])
    assert 0.25 < 1 - same.mean() < 0.6  # about half the pairs across identities after the warm-up
    final = engine.run()
    rows = [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["generator/total"]) and np.isfinite(r["discriminator/total"]) for r in rows)
    assert all(r["generator/icl"] > 0 and r["generator/contrastive"] > 0 for r in rows)
    rec = [r["generator/reconstruction"] for r in rows]
    assert np.mean(rec[-2:]) < 0.75 * np.mean(rec[:2]), rec
    model = zoo_core.load(f"local-dir:{final}")
    assert model.spec.identity_encoder == "dlib-resnet-128"
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


def test_registered_encoders_take_no_identity_weights(styleface_plugin):
    spec = zoo_core.registry.get_model_spec("styleface-256")
    dlib = {**spec.default_config, **TINY, "identity_encoder": "dlib-resnet-128", "identity_dim": 128}
    trainer = StyleFaceTrainer(spec, dlib, StyleFaceTrainConfig(identity_weights="backbone.pth"))
    with pytest.raises(ConfigError, match="identity_weights: the identity encoder 'dlib-resnet-128'"):
        trainer.build_networks()
    with pytest.raises(ConfigError, match="identity_dim must be 128"):
        StyleFaceTrainer(spec, {**dlib, "identity_dim": 512}, StyleFaceTrainConfig()).build_networks()
