"""CVAE-GAN's Trainer for the core engine (the survey's §2.2, Facke's CVAE model).

Generator losses: reconstruction L1 (Facke's ``nn.L1Loss``; the survey's text says MSE, the
released code uses L1) weighted λ_rec on same-identity iterations and the lower λ_rec_swap on
cross-identity ones (§2.2.4: "a higher weight of reconstruction loss" for the same target and
source); the KL divergence of the posterior to N(0, I) with a small weight λ_KL (§2.2.1, Eq. 9);
the identity loss 1 - cos, λ_id = 10 (the authors' ``shell/train_CVAE-GAN.sh``); the hinge
adversarial loss of two discriminators at two scales as SimSwap (§2.2.5), whose discriminator
side, optimizers and schedules this Trainer inherits from SimSwap's; optional weak feature matching (λ_wFM = 10, the survey's substitute
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
from zoo_plugin_simswap.train import SimSwapTrainer

from zoo_core.nets.losses import identity_loss
from zoo_core.specs import ModelSpec
from zoo_core.train.grid import unwrap
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
    feature_matching: Literal["wFM", "oFM", "wFM_bar", "nFM"] = "wFM"
    d_channels: int = Field(64, ge=1)
    d_layers: int = Field(4, ge=1)


def kl_divergence(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) per latent element, averaged (§2.2.1, Eq. 9)."""
    return -0.5 * torch.mean(1 + log_var - mu.pow(2) - log_var.exp())


class CVAEGANTrainer(SimSwapTrainer):
    """Phases: generator (M1, E, M2, D of Facke), then the two discriminators (SimSwap's)."""

    config_schema = CVAEGANTrainConfig
    model_class = CVAEGAN
    model_config_class = CVAEGANConfig

    @classmethod
    def resolutions(cls, spec: ModelSpec, model_config: Mapping[str, Any]) -> tuple[int, ...]:
        """M1 maps the identity code to an ``image_size``-sided map: crops of that side only."""
        return (CVAEGANConfig(**model_config).image_size,)

    def generator_losses(self, batch: Mapping[str, torch.Tensor],
                         networks: Mapping[str, nn.Module]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        source, target = batch["source"], batch["target"]
        model = unwrap(networks["swapper"])
        with torch.no_grad():
            latent = model.identity(source)
        fake, mu, log_var = networks["swapper"](target, latent)
        adversarial, matching = self.adversarial_losses(fake, target, networks["discriminator"])
        id_loss = identity_loss(model.identity(fake), latent)
        same = batch["same"].float()
        weights = same * self.config.lambda_rec + (1 - same) * self.config.lambda_rec_swap  # §2.2.4
        reconstruction = ((fake - target).abs().mean(dim=(1, 2, 3)) * weights).mean()
        kl = kl_divergence(mu, log_var)
        total = (adversarial + self.config.lambda_fm * matching + self.config.lambda_id * id_loss
                 + reconstruction + self.config.lambda_kl * kl)
        losses = {"total": total, "adversarial": adversarial.detach(), "feature_matching": matching.detach(),
                  "identity": id_loss.detach(), "reconstruction": reconstruction.detach(), "kl": kl.detach()}
        return losses, fake

    def sample_swap(self, model: nn.Module, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return model.swap(source, target, deterministic=True)
