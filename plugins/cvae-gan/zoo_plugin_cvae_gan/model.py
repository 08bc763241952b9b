"""CVAE-GAN of the Facke survey (Jiang & Dong 2022, arXiv 2206.11203, §2.2): SimSwap's
encoder / ID-block / decoder generator turned into a conditional VAE with a 2-D latent.

The generator reproduces the four networks of Ailon-Island/Facke ``models/CVAE`` layer for layer
(only the parameter names are ours; ``zoo_plugin_cvae_gan.convert`` maps the official ones):

* ``embedding`` (Facke's M1, ``Merge_Image``; the condition ``y`` of the CVAE encoder, §2.2.2):
  ``Linear(512, H*W)``, ``BatchNorm1d``, ReLU, viewed as one H x W map and concatenated after
  the three image channels;
* ``encoder`` (E, ``Encoder``): reflection pad 3, 7x7 conv (4 -> 64), BatchNorm, ReLU; three
  stride-2 stages as SimSwap's; then the two heads of the 2-D latent (§2.2.3), each a 3x3 conv
  (512 -> 512, zero padding 1), BatchNorm and **ReLU**, giving ``mu`` and ``log_var``
  (28 x 28 x 512 at 224 px). As released, the ReLU makes both non-negative, so sigma >= 1;
* reparameterisation (§2.2.1): ``z = eps * exp(log_var / 2) + mu``, as ``CVAE.reparameterize``;
* ``blocks`` (M2, ``Merge_Distribution``): nine SimSwap ID blocks that AdaIN the identity code
  into ``z`` (§2.2.3);
* ``decoder`` (D, ``Decoder``): three bilinear x2 up stages as SimSwap's; reflection pad 3, 7x7
  conv (64 -> 3), **BatchNorm2d(3)**, tanh, then ``(x + 1) / 2``: images in [0, 1].

Inputs are prepared as Facke's ``swap.py`` / ``benchmark.py`` do for the CVAE models: the target
crop is normalised with the ImageNet mean and std before M1, and the identity code is SimSwap's
ArcFace of the source (``utils/IDExtract.py``: ImageNet normalisation, nearest resize to 112,
ArcFace, ``F.normalize``; zoo_core preset ``simswap-arcface``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from zoo_plugin_simswap.model import DownStage, FirstLayer, IDBlock, UpStage, build_identity

from zoo_core.protocols import swap_identity
from zoo_core.specs import ModelSpec
from zoo_plugin_cvae_gan.config import CVAEGANConfig, NoiseKind

__all__ = [
    "CVAEDecoder",
    "CVAEEncoder",
    "CVAEGAN",
    "CVAEGANConfig",
    "CVAEGANGenerator",
    "IdentityEmbedding",
    "LatentHead",
    "build",
    "build_identity",
    "reparameterize",
    "sample_noise",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_normalize(image: torch.Tensor) -> torch.Tensor:
    """``transforms.Normalize`` with the ImageNet statistics, as Facke's data transform."""
    mean = image.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = image.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (image - mean) / std


def sample_noise(
    like: torch.Tensor, kind: NoiseKind, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``eps`` of the shape of ``like``: standard normal (survey §2.2.1) or uniform on [0, 1)
    (Facke's ``torch.rand_like``). ``generator`` must live on ``like``'s device."""
    draw = torch.randn if kind == "gaussian" else torch.rand
    return draw(like.shape, generator=generator, device=like.device, dtype=like.dtype)


def reparameterize(mu: torch.Tensor, log_var: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """``z = eps * exp(0.5 * log_var) + mu`` (survey §2.2.1; Facke's ``CVAE.reparameterize``)."""
    return eps * torch.exp(0.5 * log_var) + mu


class IdentityEmbedding(nn.Module):
    """M1 (``Merge_Image``): the identity code as a fourth input channel (survey §2.2.2)."""

    def __init__(self, latent_size: int, image_size: int) -> None:
        super().__init__()
        self.image_size = image_size
        self.linear = nn.Linear(latent_size, image_size * image_size)
        self.norm = nn.BatchNorm1d(image_size * image_size)

    def forward(self, image: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """``image`` (N, C, H, W) and ``latent`` (N, 512) -> (N, C + 1, H, W), image first."""
        side = self.image_size
        channel = F.relu(self.norm(self.linear(latent))).view(-1, 1, side, side)
        return torch.cat([image, channel], dim=1)


class LatentHead(nn.Module):
    """E's ``mu`` / ``log_var`` head (survey §2.2.3: a conv in place of the VAE's linear layer):
    3x3 conv with zero padding 1, BatchNorm, ReLU (the ReLU is Facke's)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(x)))


class CVAEEncoder(nn.Module):
    """E (``Encoder``): the recognition model q(z | x, y) with a 2-D Gaussian posterior."""

    def __init__(self, in_ch: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        self.first_layer = FirstLayer(in_ch, widths[0])
        self.down = nn.ModuleList(DownStage(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.mu = LatentHead(widths[-1])
        self.log_var = LatentHead(widths[-1])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.first_layer(x)
        for stage in self.down:
            x = stage(x)
        return self.mu(x), self.log_var(x)


class LastLayer(nn.Module):
    """D's ``conv2``: reflection pad 3, 7x7 conv, BatchNorm, tanh (Facke keeps a BatchNorm here)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size=7, padding=3, padding_mode="reflect")
        self.norm = nn.BatchNorm2d(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.norm(self.conv(x)))


class CVAEDecoder(nn.Module):
    """D (``Decoder``): the 2-D latent back to an image in [0, 1]."""

    def __init__(self, widths: tuple[int, ...], out_ch: int = 3) -> None:
        super().__init__()
        self.up = nn.ModuleList(UpStage(a, b) for a, b in zip(widths[:0:-1], widths[-2::-1], strict=True))
        self.last_layer = LastLayer(widths[0], out_ch)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        for stage in self.up:
            z = stage(z)
        return (self.last_layer(z) + 1) / 2


class CVAEGANGenerator(nn.Module):
    """Facke's CVAE generator: target in [0, 1] + identity code (+ noise) -> image in [0, 1].

    Keys: ``embedding.{linear,norm}`` (M1), ``encoder.{first_layer,down.K,mu,log_var}.{conv,norm}``
    (E), ``blocks.I.{conv1,adain1.linear,conv2,adain2.linear}`` (M2), ``decoder.{up.K,
    last_layer}.{conv,norm}`` (D).
    """

    def __init__(self, config: CVAEGANConfig) -> None:
        super().__init__()
        self.config = config
        widths = config.widths
        self.embedding = IdentityEmbedding(config.latent_size, config.image_size)
        self.encoder = CVAEEncoder(3 + 1, widths)
        self.blocks = nn.ModuleList(IDBlock(widths[-1], config.latent_size) for _ in range(config.n_blocks))
        self.decoder = CVAEDecoder(widths)

    def encode(self, target: torch.Tensor, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior ``(mu, log_var)``, each (N, C, H/8, W/8), of [0, 1] targets given the code."""
        side = self.config.image_size
        if target.ndim != 4 or tuple(target.shape[1:]) != (3, side, side):
            raise ValueError(f"expected a (N, 3, {side}, {side}) target, got {tuple(target.shape)}")
        return self.encoder(self.embedding(imagenet_normalize(target), latent))

    def decode(self, z: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """Inject the identity into ``z`` with the ID blocks, then decode to [0, 1] images."""
        for block in self.blocks:
            z = block(z, latent)
        return self.decoder(z)

    def forward(
        self,
        target: torch.Tensor,
        latent: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        eps: torch.Tensor | None = None,
        deterministic: bool | None = None,
    ) -> torch.Tensor:
        """Encode, sample ``z`` and decode.

        ``eps``: explicit noise of ``mu``'s shape (it overrides sampling); otherwise ``eps`` is
        drawn with ``generator`` from the distribution ``config.noise``. ``deterministic`` (default
        ``config.deterministic``): ``z = mu``.
        """
        mu, log_var = self.encode(target, latent)
        if eps is not None:
            if eps.shape != mu.shape:
                raise ValueError(f"eps must have the latent's shape {tuple(mu.shape)}, got {tuple(eps.shape)}")
            z = reparameterize(mu, log_var, eps)
        elif self.config.deterministic if deterministic is None else deterministic:
            z = mu
        else:
            z = reparameterize(mu, log_var, sample_noise(mu, self.config.noise, generator))
        return self.decode(z, latent)


class CVAEGAN(nn.Module):
    """Implements ``zoo_core.protocols.SwapModel`` on aligned crops at ``config.image_size``.

    Children: ``generator`` (:class:`CVAEGANGenerator`) and ``identity_encoder`` (frozen and
    always in eval mode, as Facke's ``IDExtractor``). The discriminators D1/D2 are training-only
    and not part of the model.
    """

    def __init__(self, spec: ModelSpec, config: CVAEGANConfig) -> None:
        super().__init__()
        self.spec = spec
        self.config = config
        self.generator = CVAEGANGenerator(config)
        self.identity_encoder = build_identity(config)  # SimSwap's ArcFace, which Facke's IDExtractor loads
        self.identity_encoder.requires_grad_(False)
        self.identity_encoder.eval()

    def train(self, mode: bool = True) -> CVAEGAN:
        super().train(mode)
        self.identity_encoder.eval()
        return self

    def forward(self, target: torch.Tensor, latent: torch.Tensor,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The training path (seen by a DistributedDataParallel wrapper): ``(fake, mu, log_var)``
        with ``z`` sampled from the posterior by the reparameterisation trick (§2.2.1)."""
        mu, log_var = self.generator.encode(target, latent)
        z = reparameterize(mu, log_var, sample_noise(mu, self.config.noise, generator))
        return self.generator.decode(z, latent), mu, log_var

    def identity(self, source: torch.Tensor) -> torch.Tensor:
        """L2-normalised ArcFace code (N, 512) of [0, 1] source crops, as Facke's IDExtractor."""
        return self.identity_encoder(source)

    def swap(
        self,
        source: torch.Tensor,
        target: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        eps: torch.Tensor | None = None,
        deterministic: bool | None = None,
        identity: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``target`` with the identity of ``source``; a single source is used for every target.
        ``identity``: a precomputed ``self.identity(source)`` (the encoder then does not run).

        The CVAE samples its latent: pass a seeded ``generator`` (on the model's device) for
        reproducible swaps, an explicit ``eps`` tensor, or ``deterministic=True`` to decode
        the posterior mean (the default comes from ``config.deterministic``).
        """
        if source.shape[0] not in (1, target.shape[0]):
            raise ValueError(
                f"source batch {source.shape[0]} does not match target batch {target.shape[0]} (or 1)"
            )
        latent = swap_identity(self, source, target, identity)
        return self.generator(target, latent, generator=generator, eps=eps, deterministic=deterministic)


def build(spec: ModelSpec, config: dict[str, Any]) -> CVAEGAN:
    """Builder named by the spec: ``zoo_core.create_model("cvae-gan-224")`` calls it."""
    return CVAEGAN(spec, CVAEGANConfig(**config))
