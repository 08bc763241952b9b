"""CVAE-GAN's Trainer for the core engine (the survey's §2.2, Facke's CVAE model).

Generator losses: reconstruction L1 (Facke's ``nn.L1Loss``; the survey's text says MSE, the
released code uses L1) weighted λ_rec on same-identity iterations and the lower λ_rec_swap on
cross-identity ones (§2.2.4: "a higher weight of reconstruction loss" for the same target and
source); the KL divergence of the posterior to N(0, I) with a small weight λ_KL (§2.2.1, Eq. 9);
the identity loss 1 - cos, λ_id = 10 (the authors' `shell/train_CVAE-GAN.sh`); the hinge adversarial loss of two discriminators at two
scales as SimSwap (§2.2.5); optional weak feature matching (λ_wFM = 10, the survey's substitute
for the CVAE-GAN classifier). Discriminator: hinge + gradient penalty λ_GP = 1e-5 (Facke's
train options). Iterations alternate same- and cross-identity batches (§2.2.4).

Facke's released options define neither λ_KL nor λ_rec_swap: we use λ_KL = 0.01 ("a quite small
weight", §2.2.1) and λ_rec_swap = 1 (one tenth of λ_rec); both are configurable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from zoo_core.nets.discriminators import MultiscaleDiscriminator
from zoo_core.nets.losses import (
    feature_matching_loss,
    gradient_penalty,
    hinge_d_loss,
    hinge_g_loss,
    identity_loss,
)
from zoo_core.specs import ModelSpec
from zoo_plugin_cvae_gan.config import CVAEGANConfig
from zoo_plugin_cvae_gan.model import CVAEGAN


class CVAEGANTrainConfig(BaseModel):
    """Hyperparameters: Facke's train options (lr, betas, λ_rec, λ_GP, λ_wFM), its CVAE-GAN
    script (λ_id = 10) and ours (λ_rec_swap, λ_KL)."""

    model_config = ConfigDict(extra="forbid")

    lr: float = 4e-4
    beta1: float = 0.0
    beta2: float = 0.999
    lambda_id: float = 10.0
    lambda_rec: float = 10.0
    lambda_rec_swap: float = 1.0
    lambda_kl: float = 0.01
    lambda_gp: float = 1e-5
    lambda_fm: float = 10.0
    feature_matching: Literal["wFM", "nFM"] = "wFM"
    d_channels: int = Field(64, ge=1)
    d_layers: int = Field(4, ge=1)


def kl_divergence(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) per latent element, averaged (§2.2.1, Eq. 9)."""
    return -0.5 * torch.mean(1 + log_var - mu.pow(2) - log_var.exp())


class CVAEGANTrainer:
    """Phases: generator (M1, E, M2, D of Facke), then the two discriminators."""

    config_schema = CVAEGANTrainConfig
    phases = ("generator", "discriminator")
    sampler = "alternating"
    sampler_options: Mapping[str, Any] = {}
    ema: Mapping[str, float] = {}

    def __init__(self, spec: ModelSpec, model_config: dict[str, Any], config: CVAEGANTrainConfig):
        self.spec = spec
        self.model_config = CVAEGANConfig(**model_config)
        self.config = config
        self._fake: torch.Tensor | None = None

    def build_networks(self) -> dict[str, nn.Module]:
        discriminator = MultiscaleDiscriminator(
            input_nc=3, ndf=self.config.d_channels, n_layers=self.config.d_layers, norm_layer="batch",
            num_d=2, get_interm_feat=True, padding=1,
        )
        return {"swapper": CVAEGAN(self.spec, self.model_config), "discriminator": discriminator}

    def build_optimizers(self, networks: Mapping[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        betas = (self.config.beta1, self.config.beta2)
        generator = _inner(networks["swapper"]).generator
        return {
            "generator": torch.optim.Adam(generator.parameters(), lr=self.config.lr, betas=betas),
            "discriminator": torch.optim.Adam(networks["discriminator"].parameters(), lr=self.config.lr, betas=betas),
        }

    def build_schedulers(self, optimizers: Mapping[str, torch.optim.Optimizer]) -> dict[str, Any]:
        return {}

    def step(self, phase: str, batch: Mapping[str, torch.Tensor], networks: Mapping[str, nn.Module],
             step: int) -> dict[str, torch.Tensor]:
        swapper, discriminator = networks["swapper"], networks["discriminator"]
        source, target = batch["source"], batch["target"]
        if phase == "generator":
            model = _inner(swapper)
            with torch.no_grad():
                latent = model.identity(source)
            fake, mu, log_var = swapper(target, latent)
            self._fake = fake.detach()
            fake_out, real_out = discriminator(fake), discriminator(target)
            adversarial = hinge_g_loss(fake_out)
            matching = (feature_matching_loss(fake_out, real_out, layers=slice(1, -1))
                        if self.config.feature_matching == "wFM" else fake.new_zeros(()))
            id_loss = identity_loss(model.identity(fake), latent)
            same = batch["same"].float()
            weights = same * self.config.lambda_rec + (1 - same) * self.config.lambda_rec_swap  # §2.2.4
            reconstruction = ((fake - target).abs().mean(dim=(1, 2, 3)) * weights).mean()
            kl = kl_divergence(mu, log_var)
            total = (adversarial + self.config.lambda_fm * matching + self.config.lambda_id * id_loss
                     + reconstruction + self.config.lambda_kl * kl)
            return {"total": total, "adversarial": adversarial.detach(), "feature_matching": matching.detach(),
                    "identity": id_loss.detach(), "reconstruction": reconstruction.detach(), "kl": kl.detach()}
        fake = self._fake if self._fake is not None else _inner(swapper).swap(source, target).detach()
        hinge = hinge_d_loss(discriminator(target), discriminator(fake))
        penalty = gradient_penalty(discriminator, target, fake)
        total = hinge + self.config.lambda_gp * penalty
        return {"total": total, "hinge": hinge.detach(), "gradient_penalty": penalty.detach()}

    def sample_grid(self, batch: Mapping[str, torch.Tensor], networks: Mapping[str, nn.Module]) -> torch.Tensor:
        model = _inner(networks["swapper"])
        was_training = model.training
        model.eval()
        swapped = model.swap(batch["source"], batch["target"], deterministic=True)
        model.train(was_training)
        rows = [torch.cat([s, t, w], dim=2) for s, t, w in zip(batch["source"], batch["target"], swapped, strict=True)]
        return torch.cat(rows, dim=1)

    def export(self, networks: Mapping[str, nn.Module]) -> CVAEGAN:
        return _inner(networks["swapper"])


def _inner(module: nn.Module) -> Any:
    """The module inside a DistributedDataParallel wrapper."""
    return getattr(module, "module", module)
