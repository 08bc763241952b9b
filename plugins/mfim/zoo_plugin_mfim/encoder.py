"""MFIM's facial attribute encoder (Sec. 3.1): pSp-style hierarchical latent maps, map-to-code
(M2C) blocks to StyleSpace codes and map-to-map (M2M) blocks to style maps.

Body and feature pyramid follow pSp's ``GradualStyleEncoder`` (eladrich/pixel2style2pixel,
``models/encoders/psp_encoders.py``): an IR-SE-50 body (``input_layer``, ``body.K`` in
TreB1eN's layout, so pSp's / ArcFace's IR-SE-50 weights load), taps after the last unit of
stages 2, 3 and 4 (``c1``, ``c2``, ``c3`` at input / 4, / 8, / 16), and a top-down pathway
``p2 = up(c3) + latlayer1(c2)``, ``p1 = up(p2) + latlayer2(c1)`` (bilinear, align_corners=True).

Open choices (the paper defers details to its supplementary material, not public):

* M2C: pSp's ``GradualStyleBlock`` (log2(side) stride-2 3x3 convs with LeakyReLU(0.01), then an
  equalised linear layer) whose linear layer outputs the S-space code of one modulated layer
  (its input channels) instead of a 512-d w. Each of the generator's S codes reads the latent
  map pSp reads for the code's w+ index (``< coarse_index``: c3; ``< middle_index``: p2; else p1).
* M2M: 3x3 conv, LeakyReLU(0.2), 3x3 conv at the latent map's size, one block per noise input
  of the generator whose resolution equals a latent map's side (16, 32 and 64 at 1024 px: six
  noise inputs). The last conv starts at zero, so training starts from the plain inversion.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from zoo_core.nets.identity import IRSEUnit
from zoo_core.nets.stylegan2 import EqualLinear, StyleGAN2Generator
from zoo_plugin_mfim.config import MFIMConfig

__all__ = ["FacialAttributeEncoder", "MapToCode", "MapToMap"]


class MapToCode(nn.Module):
    """M2C: a latent map (N, C, s, s) -> one style code (N, out_dim)."""

    def __init__(self, channels: int, out_dim: int, spatial: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(int(math.log2(spatial))):
            layers += [nn.Conv2d(channels, channels, 3, stride=2, padding=1), nn.LeakyReLU()]
        self.convs = nn.Sequential(*layers)
        self.linear = EqualLinear(channels, out_dim)
        self.channels = channels

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.convs(x).view(-1, self.channels))


class MapToMap(nn.Module):
    """M2M: a latent map (N, C, s, s) -> a style map (N, out_channels, s, s)."""

    def __init__(self, channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, out_channels, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv2(F.leaky_relu(self.conv1(x), 0.2))


class FacialAttributeEncoder(nn.Module):
    """Image (N, 3, input_size, input_size), normalised to [-1, 1] -> S codes and style maps.

    ``styles.K`` is the M2C block of ``generator.style_layers[K]``; ``m2m.I`` the M2M block of
    the I-th entry of :attr:`map_layers` (noise-input indices).
    """

    def __init__(self, config: MFIMConfig, generator: StyleGAN2Generator) -> None:
        super().__init__()
        self.config = config
        w0 = config.encoder_widths[0]
        self.input_layer = nn.Sequential(nn.Conv2d(3, w0, 3, 1, 1, bias=False), nn.BatchNorm2d(w0), nn.PReLU(w0))
        units: list[nn.Module] = []
        ends: list[int] = []
        in_ch = w0
        for count, width in zip(config.encoder_units, config.encoder_widths, strict=True):
            units.append(IRSEUnit(in_ch, width, 2, se=True))
            units += [IRSEUnit(width, width, 1, se=True) for _ in range(count - 1)]
            ends.append(len(units) - 1)
            in_ch = width
        self.body = nn.Sequential(*units)
        self.taps = tuple(ends[1:])  # body indices of c1, c2, c3 (6, 20, 23 for IR-SE-50)
        c = config.latent_channels
        widths = config.encoder_widths
        self.latlayer1 = nn.Conv2d(widths[2], c, 1)
        self.latlayer2 = nn.Conv2d(widths[1], c, 1)
        coarse, middle, fine = config.latent_map_sizes
        index = generator.style_latent_index
        self.code_maps = [0 if w < config.coarse_index else 1 if w < config.middle_index else 2 for w in index]
        sides = (coarse, middle, fine)
        self.styles = nn.ModuleList(
            MapToCode(c, dim, sides[m]) for (_, _, dim), m in zip(generator.style_layers, self.code_maps, strict=True)
        )
        self.map_layers: list[int] = []
        self.map_sources: list[int] = []
        blocks: list[nn.Module] = []
        if config.style_maps:
            for i, (res, ch) in enumerate(zip(generator.conv_resolutions, generator.conv_channels, strict=True)):
                if res in sides:
                    self.map_layers.append(i)
                    self.map_sources.append(sides.index(res))
                    blocks.append(MapToMap(c, ch if config.style_map_channels == "layer" else 1))
        self.m2m = nn.ModuleList(blocks)

    def latent_maps(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The hierarchical latent maps (c3, p2, p1): input / 16, / 8, / 4."""
        size = self.config.input_size
        if x.ndim != 4 or tuple(x.shape[1:]) != (3, size, size):
            raise ValueError(f"the encoder takes (N, 3, {size}, {size}) images, got {tuple(x.shape)}")
        x = self.input_layer(x)
        feats = {}
        for i, unit in enumerate(self.body):
            x = unit(x)
            if i in self.taps:
                feats[i] = x
        c1, c2, c3 = (feats[i] for i in self.taps)
        p2 = _upsample_add(c3, self.latlayer1(c2))
        p1 = _upsample_add(p2, self.latlayer2(c1))
        return c3, p2, p1

    def codes(self, maps: tuple[Tensor, Tensor, Tensor], layers: list[int] | None = None) -> list[Tensor | None]:
        """S-space codes from the latent maps, one per style layer (``layers``: only these)."""
        wanted = set(range(len(self.styles)) if layers is None else layers)
        return [block(maps[m]) if k in wanted else None
                for k, (block, m) in enumerate(zip(self.styles, self.code_maps, strict=True))]

    def style_maps(self, maps: tuple[Tensor, Tensor, Tensor]) -> dict[int, Tensor]:
        """Noise-input index -> style map (empty without style maps)."""
        return {i: block(maps[m]) for i, m, block in zip(self.map_layers, self.map_sources, self.m2m, strict=True)}


def _upsample_add(x: Tensor, y: Tensor) -> Tensor:
    return F.interpolate(x, size=y.shape[-2:], mode="bilinear", align_corners=True) + y

