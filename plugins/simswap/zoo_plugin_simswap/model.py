"""SimSwap (Chen et al., ACM MM 2020, arXiv 2106.06340): an encoder / ID-injection / decoder
generator conditioned on an ArcFace identity code.

The generator reproduces the released ``Generator_Adain_Upsample`` of neuralchen/SimSwap
(``models/fs_networks.py`` for 224 px, ``models/fs_networks_512.py`` for 512 px) layer for
layer; only the parameter names are ours (``zoo_plugin_simswap.convert`` maps the official
ones). What the released code does, and this module therefore does:

* first layer: reflection pad 3, 7x7 conv, **BatchNorm**, ReLU;
* stride-2 stages: 3x3 conv (zero padding 1), BatchNorm, ReLU;
* ID blocks: two (reflection pad 1, 3x3 conv, parameter-free instance norm with eps 1e-8 under
  the square root, AdaIN affine ``x * (scale + 1) + bias`` from ``Linear(latent)``), ReLU after
  the first only, plus the residual; no activation after the sum;
* up stages: **bilinear** x2 upsampling (``align_corners=False``), 3x3 conv (zero padding 1),
  BatchNorm, ReLU;
* last layer: reflection pad 3, 7x7 conv, tanh, then ``(x + 1) / 2``: the generator itself
  returns images in [0, 1] at both resolutions; the test scripts save it as is.

The identity code is computed as in the official test scripts (``test_one_image.py``,
``test_wholeimage_swapsingle.py``): ImageNet mean/std on the source crop, nearest resize to
112 (``F.interpolate(img, size=(112, 112))``), ArcFace, ``F.normalize``. The target goes into
the generator as a [0, 1] tensor without normalisation. A model trained with another registered
identity encoder (``SimSwapConfig.identity_encoder``, e.g. ``dlib-resnet-128`` on dlib chips cut
from the crop by :mod:`zoo_core.faces.chip_identity`) uses that encoder's L2-normalised code.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from zoo_core.errors import ConfigError
from zoo_core.nets.adain import AdaIN
from zoo_core.nets.identity import IdentityEncoder, build_identity_encoder
from zoo_core.nets.identity_config import IDENTITY_ENCODER_PRESETS
from zoo_core.protocols import swap_identity
from zoo_core.specs import ModelSpec
from zoo_plugin_simswap.config import IDENTITY_PRESET, SimSwapConfig

__all__ = [
    "DownStage",
    "IDBlock",
    "SimSwap",
    "SimSwapConfig",
    "SimSwapGenerator",
    "UpStage",
    "build",
    "build_identity",
    "build_model_identity",
]

_PADDING_MODES = {"reflect": "reflect", "replicate": "replicate", "zero": "zeros"}


class FirstLayer(nn.Module):
    """``first_layer``: reflection pad 3, 7x7 conv, BatchNorm, ReLU."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        # padding_mode="reflect" pads exactly as the official ReflectionPad2d(3) before the conv
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size=7, padding=3, padding_mode="reflect")
        self.norm = nn.BatchNorm2d(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(x)))


class DownStage(nn.Module):
    """``downK``: 3x3 stride-2 conv with zero padding 1, BatchNorm, ReLU."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=2, padding=1)
        self.norm = nn.BatchNorm2d(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(x)))


class IDBlock(nn.Module):
    """``ResnetBlock_Adain`` (the paper's ID block): ``x + AdaIN(conv(ReLU(AdaIN(conv(x)))))``."""

    def __init__(self, channels: int, latent_size: int, padding_type: str = "reflect") -> None:
        super().__init__()
        mode = _PADDING_MODES[padding_type]
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, padding_mode=mode)
        self.adain1 = AdaIN(latent_size, channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, padding_mode=mode)
        self.adain2 = AdaIN(latent_size, channels)

    def forward(self, x: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.adain1(self.conv1(x), latent))
        return x + self.adain2(self.conv2(y), latent)


class UpStage(nn.Module):
    """``upK``: bilinear x2 upsampling, 3x3 conv with zero padding 1, BatchNorm, ReLU."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm2d(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # nn.Upsample(scale_factor=2, mode="bilinear") upstream: align_corners defaults to False
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return F.relu(self.norm(self.conv(x)))


class LastLayer(nn.Module):
    """``last_layer``: reflection pad 3, 7x7 conv, tanh."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size=7, padding=3, padding_mode="reflect")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(x))


class SimSwapGenerator(nn.Module):
    """``Generator_Adain_Upsample``: target image in [0, 1] + identity code -> image in [0, 1].

    Keys: ``first_layer.{conv,norm}``, ``down.K.{conv,norm}``, ``blocks.I.{conv1,adain1.linear,
    conv2,adain2.linear}``, ``up.K.{conv,norm}``, ``last_layer.conv``. ``down``/``up`` list the
    stages in execution order (224: official down1..down3 and up3..up1; 512: down0..down3 and
    up3..up0; ``deep`` appends down4 and prepends up4).
    """

    def __init__(self, config: SimSwapConfig) -> None:
        super().__init__()
        self.config = config
        widths = list(config.widths)
        if config.deep:
            widths.append(widths[-1])
        self.first_layer = FirstLayer(config.input_nc, widths[0])
        self.down = nn.ModuleList(DownStage(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.blocks = nn.ModuleList(
            IDBlock(widths[-1], config.latent_size, config.padding_type) for _ in range(config.n_blocks)
        )
        self.up = nn.ModuleList(UpStage(a, b) for a, b in zip(widths[:0:-1], widths[-2::-1], strict=True))
        self.last_layer = LastLayer(widths[0], config.output_nc)

    def forward(self, target: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """``target`` (N, input_nc, H, W) in [0, 1], ``latent`` (N, latent_size) -> (N, output_nc, H, W)."""
        stride = self.config.total_stride
        if target.ndim != 4 or target.shape[1] != self.config.input_nc:
            raise ValueError(f"expected a (N, {self.config.input_nc}, H, W) target, got {tuple(target.shape)}")
        if target.shape[-2] % stride or target.shape[-1] % stride:
            raise ValueError(f"target sides must be divisible by {stride}, got {tuple(target.shape[-2:])}")
        x = self.first_layer(target)
        for stage in self.down:
            x = stage(x)
        for block in self.blocks:
            x = block(x, latent)
        for stage in self.up:
            x = stage(x)
        return (self.last_layer(x) + 1) / 2


def build_identity(config: Any) -> IdentityEncoder:
    """SimSwap's ArcFace (zoo_core preset ``simswap-arcface``) at ``config.identity_depth`` and
    ``config.identity_input_size`` (any config with those fields: CVAE-GAN reuses it)."""
    preset = IDENTITY_ENCODER_PRESETS[IDENTITY_PRESET].model_dump()
    return build_identity_encoder(
        {**preset, "depth": config.identity_depth, "input_size": config.identity_input_size}
    )


def build_model_identity(config: SimSwapConfig, template: str) -> nn.Module:
    """The identity encoder ``config.identity_encoder`` on crops aligned to ``template``, in eval
    mode; another encoder than SimSwap's ArcFace must give ``config.latent_size`` values."""
    if config.identity_encoder == IDENTITY_PRESET:
        return build_identity(config).eval()
    # the face pipeline (the [faces] extra) serves only encoders other than SimSwap's ArcFace
    from zoo_core.faces.chip_identity import build_crop_identity_encoder, embedding_size

    encoder = build_crop_identity_encoder(config.identity_encoder, template).eval()
    size = embedding_size(encoder)
    if size != config.latent_size:
        raise ConfigError(f"latent_size must be {size}, the size of {config.identity_encoder}'s identity code, "
                          f"got {config.latent_size}")
    return encoder


class SimSwap(nn.Module):
    """Implements ``zoo_core.protocols.SwapModel`` on aligned crops at ``spec.resolution``.

    Children: ``generator`` (:class:`SimSwapGenerator`) and ``identity_encoder`` (by default the
    zoo_core ``simswap-arcface`` encoder, official keys under ``identity_encoder.backbone``). The
    encoder is frozen and always in eval mode, as upstream (``netArc.eval()``; dropout and batch
    statistics would otherwise change the identity code). ``spec.identity_encoder`` names the
    encoder in use, so evaluation refuses it as recognizer.
    """

    def __init__(self, spec: ModelSpec, config: SimSwapConfig) -> None:
        super().__init__()
        self.spec = spec.model_copy(update={"identity_encoder": config.identity_encoder})
        self.config = config
        self.generator = SimSwapGenerator(config)
        self.identity_encoder = build_model_identity(config, spec.template)
        self.identity_encoder.requires_grad_(False)

    def train(self, mode: bool = True) -> SimSwap:
        super().train(mode)
        self.identity_encoder.eval()
        return self

    def forward(self, target: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """The generator on ``target`` crops with identity codes ``latent`` (the training path,
        so that a DistributedDataParallel wrapper sees the call)."""
        return self.generator(target, latent)

    def identity(self, source: torch.Tensor) -> torch.Tensor:
        """L2-normalised identity code (N, latent_size) of [0, 1] source crops (ArcFace: as the
        test scripts compute it)."""
        return F.normalize(self.identity_encoder(source), dim=1)

    def swap(self, source: torch.Tensor, target: torch.Tensor, *, identity: torch.Tensor | None = None) -> torch.Tensor:
        """``target`` with the identity of ``source``; a single source is used for every target.
        ``identity``: a precomputed ``self.identity(source)`` (the encoder then does not run)."""
        if source.shape[0] not in (1, target.shape[0]):
            raise ValueError(
                f"source batch {source.shape[0]} does not match target batch {target.shape[0]} (or 1)"
            )
        return self.generator(target, swap_identity(self, source, target, identity))


def build(spec: ModelSpec, config: dict[str, Any]) -> SimSwap:
    """Builder named by the specs: ``zoo_core.create_model("simswap-224")`` calls it."""
    return SimSwap(spec, SimSwapConfig(**config))
