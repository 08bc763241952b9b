"""The Identity Projector of StyleFace (Sec. 3.1, Eq. 1-2): the VAE-like one-layer MLP ω from
the face-recognition features to the means and log-variances of the Z+ codes, the
reparameterisation φ, the KL loss, and the momentum copy P_θ' of the contrastive constraint."""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from zoo_plugin_styleface.config import LEVELS


class IdentityProjector(nn.Module):
    """ω: ``Linear(identity_dim, 2 * 3 * z_dim)`` -> ``(mu, logvar)``, each ``(N, 3, z_dim)``
    (low, mid, high). The paper calls it a one-layer MLP; no activation follows it."""

    def __init__(self, identity_dim: int = 512, z_dim: int = 512) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.omega = nn.Linear(identity_dim, 2 * len(LEVELS) * z_dim)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.omega(features).view(-1, 2, len(LEVELS), self.z_dim).unbind(1)
        return mu, logvar


def reparameterize(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """φ: ``z = mu + sigma * eps`` with ``eps ~ N(0, I)``."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """Eq. 1: ``1/2 sum_i (mu_i^2 + sigma_i^2 - log sigma_i^2 - 1)`` over the three levels and
    the 512 dimensions, averaged over the batch."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).flatten(1).sum(1).mean()


class MomentumProjector(nn.Module):
    """P_θ' (Eq. 2-3): a copy of ω and of the mapping network f (the generator's ``style``
    layers), updated only by ``θ' <- m θ' + (1 - m) θ`` (m = 0.999), never by gradients."""

    def __init__(self, projector: IdentityProjector, generator: nn.Module, momentum: float = 0.999) -> None:
        super().__init__()
        self.momentum = momentum
        self.omega = copy.deepcopy(projector.omega).requires_grad_(False)
        self.style = copy.deepcopy(generator.style).requires_grad_(False)
        self.z_dim = projector.z_dim

    @torch.no_grad()
    def update(self, projector: IdentityProjector, generator: nn.Module) -> None:
        """One momentum step towards the live projector and mapping network."""
        pairs = [*zip(self.omega.parameters(), projector.omega.parameters(), strict=True),
                 *zip(self.style.parameters(), generator.style.parameters(), strict=True)]
        for shadow, live in pairs:
            shadow.lerp_(live.detach(), 1.0 - self.momentum)

    @torch.no_grad()
    def forward(self, features: Tensor) -> Tensor:
        """``w^{j'} = f'(φ(ω'(FR(X^{j'}))))``, ``(N, 3, style_dim)`` (``style`` is the whole
        mapping network: ``StyleGAN2Generator.mapping(z)`` is ``style(z)``)."""
        mu, logvar = self.omega(features).view(-1, 2, len(LEVELS), self.z_dim).unbind(1)
        z = reparameterize(mu, logvar)
        return self.style(z.flatten(0, 1)).view(z.shape[0], len(LEVELS), -1)
