"""InfoSwap's trainer (supplement Algorithm 1): every loss term against the paper's formula
written out here, the gradient paths the algorithm prescribes (L_per against a detached target
with the decoder frozen, L_cyc with the AII frozen), and L_recog falling on real faces."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from infoswap_official_layout import official_checkpoints
from zoo_plugin_infoswap.config import TINY, InfoSwapConfig
from zoo_plugin_infoswap.convert import convert_official
from zoo_plugin_infoswap.model import build
from zoo_plugin_infoswap.train import InfoSwapTrainConfig, InfoSwapTrainer, icl_losses

from zoo_core.nets.discriminators import MultiscaleDiscriminator
from zoo_core.train.data import FaceFolder, load_crop

WEIGHTS = {"alpha": 0.7, "beta": 3.0, "beta_adv": 1.5, "beta_per": 2.5, "beta_cyc": 0.5}
"""Distinct weights, so a term added with another's weight shows in the total."""


@pytest.fixture(scope="module")
def model():
    """The tiny model on official-layout weights with readout statistics (eval: BatchNorm per sample)."""
    config = InfoSwapConfig(**TINY).model_dump()
    net = build(None, config)
    net.load_state_dict(convert_official(official_checkpoints(config), config))
    return net.eval()


@pytest.fixture(scope="module")
def faces(faces_dir):
    """Four different CelebA-HQ people at the tiny output size: sources 0-1, targets 2-3."""
    paths = FaceFolder.scan(faces_dir / "celebahq_1024").paths[:4]
    crops = torch.from_numpy(np.stack([load_crop(p, 256) for p in paths]))
    return {"source": crops[:2], "target": crops[2:]}


@pytest.fixture
def no_noise(monkeypatch):
    """Every Gaussian draw returns 0: eps_i = mu_Ri (Eq. 4) and eps^s = the batch mean of R^s."""

    def zeros(like, generator, batch=None):
        return torch.zeros((like.shape[0] if batch is None else batch, *like.shape[1:]), dtype=like.dtype)

    monkeypatch.setattr("zoo_plugin_infoswap.iib.standard_normal", zeros)
    monkeypatch.setattr("zoo_plugin_infoswap.model.standard_normal", zeros)


def trainer(**overrides) -> InfoSwapTrainer:
    return InfoSwapTrainer(None, TINY, InfoSwapTrainConfig(d_channels=8, d_layers=2, d_scales=2, **overrides))


def small_discriminator() -> MultiscaleDiscriminator:
    return MultiscaleDiscriminator(input_nc=3, ndf=8, n_layers=2, norm_layer="batch", num_d=2).eval()


def cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))


def test_icl_terms_are_eq_10_and_11():
    angle = torch.tensor([0.3, 1.1])
    z_s = torch.stack((torch.cos(angle), torch.sin(angle), torch.zeros(2)), 1) * 2
    z_t = torch.tensor([[0.0, 1.0, 0.5], [1.0, -0.2, 0.3]])
    z_y = torch.tensor([[0.6, 0.5, -0.4], [0.2, 0.9, 0.1]])
    pos, neg = icl_losses(z_y, z_s, z_t)
    expected_pos = -cos(z_y, z_s).mean()
    expected_neg = ((cos(z_y, z_t) - cos(z_s, z_t)) ** 2).mean()
    torch.testing.assert_close(pos, expected_pos)
    torch.testing.assert_close(neg, expected_neg)
    # the batch tells the pairs apart: swapped pairs or a flipped sign give other values
    swapped_pos, swapped_neg = icl_losses(z_y, z_t, z_s)
    assert abs(swapped_pos - expected_pos) > 0.05 and abs(swapped_neg - expected_neg) > 0.05
    alt_neg = ((cos(z_y, z_s) - cos(z_s, z_t)) ** 2).mean()  # Alg. 1 line 27's print
    assert abs(alt_neg - expected_neg) > 0.05 and abs(-expected_pos - expected_pos) > 0.05


def kl(r, lam, mean, std):
    """Eq. 6 as the KL divergence it defines, per element."""
    return 0.5 * ((1 - lam) ** 2 + (lam * (r - mean) / std) ** 2 - 1) - torch.log(1 - lam)


def compressed(model, feats, lambdas):
    """Eq. 4 with eps = mu (no noise), Eq. 7 (one bottleneck at a time) and Eq. 5."""
    codes, infos = [], []
    for i, lam in enumerate(lambdas):
        mean, std, active = model.stats.get(i)
        z = (lam * feats[i] + (1 - lam) * mean) * active
        codes.append(model.restrict(z, i))
        infos.append((kl(feats[i], lam, mean, std) * active).mean())
    return sum(codes) / len(codes), sum(infos) / len(infos)


def decoded(model, feats, lambdas, eps, image):
    """dec(lambda eps + (1 - lambda) R) with the image at level 0 (512)."""
    f = [lam * e + (1 - lam) * r for r, lam, e in zip(feats, lambdas, eps, strict=False)]
    f[0] = image
    return model.decoder.features(f)


def test_generator_losses_are_the_papers_terms(model, faces, no_noise):
    """Eq. 5, 8, 10, 11, 16, 18, 20 and 21 on two cross-identity pairs of real faces."""
    t = trainer(**WEIGHTS)
    torch.manual_seed(0)
    discriminator = small_discriminator()
    with torch.no_grad():
        losses, xs_out, y_out = t.generator_losses(faces, model, discriminator)
        xs, xt = faces["source"] * 2 - 1, faces["target"] * 2 - 1
        b = xs.shape[0]
        z_id, feats = model.recognize(torch.cat((xs, xt)))
        lambdas = model.controllers(feats)
        z, info = compressed(model, feats, lambdas)
        recog = (1 - cos(z, z_id)).mean()
        m = len(lambdas)
        lam_s, lam_t = [lam[:b] for lam in lambdas], [lam[b:] for lam in lambdas]
        eps_s = [r[:b].mean(0, keepdim=True).expand_as(r[b:]) for r in feats[:m]]
        eps_t = [r[b:].mean(0, keepdim=True).expand_as(r[:b]) for r in feats[:m]]
        attrs_t = decoded(model, [r[b:] for r in feats], lam_t, eps_s, xt)
        y = model.generator(z[:b], attrs_t, model.decoder.controllers(lam_t))
        _, feats_y = model.recognize(y)
        z_y, _ = compressed(model, feats_y, model.controllers(feats_y))
        pos = -cos(z_y, z[:b]).mean()
        neg = ((cos(z_y, z[b:]) - cos(z[:b], z[b:])) ** 2).mean()
        adv = np.mean([F.softplus(-(fy[-1] - fx[-1])).mean().item()  # -log sigmoid(D(Y) - D(X_s))
                       for fx, fy in zip(discriminator(xs), discriminator(y), strict=True)])
        attrs_y = decoded(model, feats_y, lam_t, eps_s, y)
        per = np.mean([((a - t_) ** 2).mean().item() for a, t_ in zip(attrs_y, attrs_t, strict=True)])
        attrs_s = decoded(model, [r[:b] for r in feats], lam_s, eps_t, xs)
        x_hat = model.generator(z_y, attrs_s, model.decoder.controllers(lam_s))
        cyc = (xs - x_hat).abs().mean()
    torch.testing.assert_close(y_out, y)
    expected = {"info": info, "recog": recog, "icl_pos": pos, "icl_neg": neg, "adversarial": adv,
                "perceptual": per, "cycle": cyc}
    for name, value in expected.items():
        torch.testing.assert_close(losses[name], torch.as_tensor(value, dtype=torch.float32), rtol=1e-4, atol=1e-6,
                                   msg=lambda text, name=name: f"{name}: {text}")
    w = WEIGHTS
    total = (w["alpha"] * info + w["beta"] * (recog + pos + neg) + w["beta_adv"] * adv + w["beta_per"] * per
             + w["beta_cyc"] * cyc)
    torch.testing.assert_close(losses["total"], torch.as_tensor(total, dtype=torch.float32), rtol=1e-4, atol=1e-6)
    # every term is away from zero here, so a flipped sign or a swapped pair would show
    assert all(abs(float(v)) > 1e-4 for v in expected.values()), expected
    assert abs(float(neg) - float(((cos(z_y, z[:b]) - cos(z[:b], z[b:])) ** 2).mean())) > 1e-4


def test_perceptual_loss_moves_y_not_the_decoder(model):
    """L_per: no gradient into the target side or the decoder's parameters; Y and lambda^t get one."""
    t = trainer()
    model.train()
    try:
        y = (torch.rand(2, 3, 256, 256) * 2 - 1).requires_grad_(True)
        _, feats_y = model.recognize(y)
        lam_t = [torch.rand_like(r).requires_grad_(True) for r in feats_y[:10]]
        eps_s = [torch.randn_like(r) for r in feats_y[:10]]
        attrs_t = [a.detach().clone().requires_grad_(True)
                   for a in t._decode(model, [r.detach() for r in feats_y], torch.rand(2, 3, 256, 256))]
        model.zero_grad(set_to_none=True)
        t.perceptual_loss(model, feats_y, y, lam_t, eps_s, attrs_t).backward()
    finally:
        model.eval()
    assert all(a.grad is None for a in attrs_t)
    assert all(p.grad is None for p in model.decoder.parameters())
    assert all(p.requires_grad for p in model.decoder.parameters())  # unfrozen after the pass
    assert y.grad.abs().sum() > 0 and all(lam.grad.abs().sum() > 0 for lam in lam_t[1:])  # 512: level 0 is Y


def test_cycle_loss_reaches_only_the_compressed_identity(model, faces):
    """Alg. 1 lines 37-40: f~^s and lambda~^s without gradient, the AII frozen; z~(Y) gets one."""
    t = trainer()
    xs = faces["source"] * 2 - 1
    _, feats = model.recognize(torch.cat((xs, faces["target"] * 2 - 1)))
    lambdas = model.controllers(feats)
    z_y = torch.randn(2, 512, requires_grad=True)
    model.zero_grad(set_to_none=True)
    loss = t.cycle_loss(model, feats, lambdas, xs, z_y, 2)
    loss.backward()
    for part in (model.generator, model.decoder, model.iib):
        assert all(p.grad is None for p in part.parameters())
    assert all(p.requires_grad for p in model.generator.parameters())
    assert z_y.grad.abs().sum() > 0


def test_discriminator_phase_is_eq_16():
    """L_adv^D = -E[log sigmoid(D(X_s) - D(Y))] on the pair the generator phase produced."""
    t = trainer()
    torch.manual_seed(0)
    discriminator = small_discriminator()
    with torch.no_grad():  # logits far from 0, so that the order of the pair matters
        for p in discriminator.parameters():
            p.mul_(2)
    real, fake = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1
    t._pair = (real, fake)
    loss = t.step("discriminator", {}, {"discriminator": discriminator}, 0)["total"]
    with torch.no_grad():
        pairs = list(zip(discriminator(real), discriminator(fake), strict=True))
        expected = np.mean([-torch.log(torch.sigmoid(r[-1] - f[-1])).mean().item() for r, f in pairs])
        flipped = np.mean([-torch.log(torch.sigmoid(f[-1] - r[-1])).mean().item() for r, f in pairs])
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert abs(flipped - expected) > 1e-3


def test_recognition_loss_falls_on_real_faces(faces_dir):
    """From lambda = 0.5 (r_i = 0), L_IB steps pull the compressed identity back to z_id."""
    torch.manual_seed(0)
    model = build(None, {**TINY, "lambda_init_logit": 0.0}).train()
    paths = FaceFolder.scan(faces_dir / "celebahq_1024").paths[:2]
    images = torch.from_numpy(np.stack([load_crop(p, 256) for p in paths]))
    with torch.no_grad():
        z_id, feats = model.recognize(model.to_network(images))
    optimizer = torch.optim.Adam(model.iib.parameters(), lr=5e-3)
    recog = []
    for _ in range(16):
        z, info = InfoSwapTrainer._compressed_identity(model, feats, model.controllers(feats))
        loss = (1 - torch.nn.functional.cosine_similarity(z, z_id)).mean()
        (0.2 * info + loss).backward()
        optimizer.step()
        optimizer.zero_grad()
        recog.append(loss.item())
    assert np.mean(recog[-3:]) < 0.7 * np.mean(recog[:3]), recog
