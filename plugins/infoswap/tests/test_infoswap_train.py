"""InfoSwap's trainer (Algorithm 1): one full step at a tiny size, and L_recog falling over a
few dozen IIB steps on real faces."""

from __future__ import annotations

import numpy as np
import torch
from zoo_plugin_infoswap.config import TINY
from zoo_plugin_infoswap.model import build
from zoo_plugin_infoswap.train import InfoSwapTrainConfig, InfoSwapTrainer

from zoo_core.train.data import FaceFolder, load_crop


def test_paper_hyperparameters_are_the_defaults():
    c = InfoSwapTrainConfig()
    assert (c.lr, c.weight_decay, c.beta1, c.beta2) == (5e-5, 2e-5, 0.001, 0.999)
    assert (c.alpha / c.beta, c.beta_adv, c.beta_per, c.beta_cyc) == (0.2, 1.0, 5.0, 1.0)
    assert (c.d_scales, InfoSwapTrainer.phases) == (3, ("generator", "discriminator"))


def test_one_algorithm_1_step():
    torch.manual_seed(0)
    trainer = InfoSwapTrainer(None, TINY, InfoSwapTrainConfig(d_channels=8, d_layers=2, d_scales=2))
    networks = trainer.build_networks()
    optimizers = trainer.build_optimizers(networks)
    for net in networks.values():
        net.train()
    batch = {"source": torch.rand(1, 3, 256, 256), "target": torch.rand(1, 3, 256, 256)}
    losses = trainer.step("generator", batch, networks, 0)
    assert set(losses) >= {"total", "info", "recog", "icl_pos", "icl_neg", "adversarial", "perceptual", "cycle"}
    assert all(torch.isfinite(v) for v in losses.values())
    losses["total"].backward()
    swapper = networks["swapper"]
    for part in (swapper.iib, swapper.decoder, swapper.generator):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
    assert all(p.grad is None for p in swapper.identity_encoder.parameters())
    assert all(p.requires_grad for p in swapper.generator.parameters())  # unfrozen after the cycle pass
    optimizers["generator"].step()
    d_losses = trainer.step("discriminator", batch, networks, 0)
    assert torch.isfinite(d_losses["total"])
    d_losses["total"].backward()
    assert all(p.grad is not None for p in networks["discriminator"].parameters())
    assert all(p.grad is None for p in swapper.identity_encoder.parameters())


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
