"""The Identity Projector of StyleFace (Sec. 3.1, Eq. 1-2): the VAE-like one-layer MLP ω from
the face-recognition features to the means and log-variances of the Z+ codes, the
reparameterisation φ, the KL loss, and the momentum copy P_θ' of the contrastive constraint."""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo_plugin_styleface.config import LEVELS


class IdentityProjector(nn.Module):
    """ω: ``Linear(identity_dim, 2 * 3 * z_dim)`` -> ``(mu, logvar)``, each ``(N, 3, z_dim)``
    (low, mid, high). The paper calls it a one-layer MLP; no activation follows it.

    Scale and initialisation (the paper is silent; our choice): ω sees the recognizer's features
    L2-normalised and scaled to norm ``sqrt(identity_dim)`` (unit mean square per value, whatever
    the recognizer's own scale); the mean rows start from N(0, 1 / identity_dim) and the
    log-variance rows and all biases from zero. At initialisation ``mu`` then spreads across
    identities on the scale of the prior N(0, I) (a variance of ``1 - cos`` between two
    identities per value) while ``sigma = 1``, so ``z = mu + sigma * eps`` carries the identity
    from the first step; with PyTorch's default init on unit features the spread is ~0.03 and
    the lr of 1e-6 cannot grow it.
    """

    def __init__(self, identity_dim: int = 512, z_dim: int = 512) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.omega = nn.Linear(identity_dim, 2 * len(LEVELS) * z_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        means = len(LEVELS) * self.z_dim
        with torch.no_grad():
            nn.init.normal_(self.omega.weight[:means], std=self.omega.in_features ** -0.5)
            nn.init.zeros_(self.omega.weight[means:])
            nn.init.zeros_(self.omega.bias)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        scaled = F.normalize(features, dim=1) * math.sqrt(features.shape[1])
        mu, logvar = self.omega(scaled).view(-1, 2, len(LEVELS), self.z_dim).unbind(1)
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
    """P_θ' (Eq. 2-3): a copy of the projector ω and of the mapping network f (the generator's
    ``style`` layers), updated only by ``θ' <- m θ' + (1 - m) θ`` (m = 0.999), never by gradients."""

    def __init__(self, projector: IdentityProjector, generator: nn.Module, momentum: float = 0.999) -> None:
        super().__init__()
        self.momentum = momentum
        self.projector = copy.deepcopy(projector).requires_grad_(False)
        self.style = copy.deepcopy(generator.style).requires_grad_(False)

    @torch.no_grad()
    def update(self, projector: IdentityProjector, generator: nn.Module) -> None:
        """One momentum step towards the live projector and mapping network."""
        pairs = [*zip(self.projector.parameters(), projector.parameters(), strict=True),
                 *zip(self.style.parameters(), generator.style.parameters(), strict=True)]
        for shadow, live in pairs:
            shadow.lerp_(live.detach(), 1.0 - self.momentum)

    @torch.no_grad()
    def forward(self, features: Tensor) -> Tensor:
        """``w^{j'} = f'(φ(ω'(FR(X^{j'}))))``, ``(N, 3, style_dim)`` (``style`` is the whole
        mapping network: ``StyleGAN2Generator.mapping(z)`` is ``style(z)``)."""
        z = reparameterize(*self.projector(features))
        return self.style(z.flatten(0, 1)).view(z.shape[0], len(LEVELS), -1)
