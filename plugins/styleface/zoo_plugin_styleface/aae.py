"""The Adaptive Attribute Extractor (Sec. 3.2, Eq. 4-6): a light U-shaped network whose
feature at each resolution is brought to the generator's channels by a 1x1 conv, and the
AttrInjection modules that add it, gated by a control mask, after every modulated conv."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def _conv(in_ch: int, out_ch: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1), nn.LeakyReLU(0.2))


class AttributeExtractor(nn.Module):
    """U-shaped: one 3x3 conv per resolution on the way down (``size`` to 4, stride 2 between
    resolutions), one per resolution on the way up (bilinear x2, concatenation with the encoder
    feature of that resolution), then ``to_generator[i]``: a 1x1 conv to the generator's
    channels at ``resolutions[i]``. Widths are the generator's divided by ``divisor`` (Sec. 4.1).

    Input: images in [0, 1]; output: ``f_att`` per resolution, ``resolutions`` order (4 .. size).
    """

    def __init__(self, channels: dict[int, int], size: int, divisor: int = 8) -> None:
        super().__init__()
        self.resolutions = [2**k for k in range(2, size.bit_length())]
        width = {r: max(1, channels[r] // divisor) for r in self.resolutions}
        top = self.resolutions[::-1]  # size .. 4
        self.from_rgb = _conv(3, width[size])
        self.down = nn.ModuleList(_conv(width[r], width[r // 2], stride=2) for r in top[:-1])
        self.up = nn.ModuleList(_conv(width[r] + width[2 * r], width[2 * r]) for r in self.resolutions[:-1])
        self.to_generator = nn.ModuleList(nn.Conv2d(width[r], channels[r], 1) for r in self.resolutions)

    def forward(self, image: Tensor) -> list[Tensor]:
        encoded = [self.from_rgb(image * 2.0 - 1.0)]  # size .. 4
        for layer in self.down:
            encoded.append(layer(encoded[-1]))
        skips = encoded[::-1]  # 4 .. size
        decoded = [skips[0]]
        for layer, skip in zip(self.up, skips[1:], strict=True):
            up = F.interpolate(decoded[-1], scale_factor=2, mode="bilinear", align_corners=False)
            decoded.append(layer(torch.cat([up, skip], dim=1)))
        return [proj(f) for proj, f in zip(self.to_generator, decoded, strict=True)]


class AttrInjection(nn.Module):
    """Eq. 4-5: ``M = sigmoid(Conv(h ∘ f_att))``, ``h' = h + M * f_att``; returns ``(h', M)``."""

    def __init__(self, channels: int, kernel: int = 1) -> None:
        super().__init__()
        self.mask = nn.Conv2d(2 * channels, channels, kernel, padding=kernel // 2)

    def forward(self, h: Tensor, attribute: Tensor) -> tuple[Tensor, Tensor]:
        mask = self.mask(torch.cat([h, attribute], dim=1)).sigmoid()
        return h + mask * attribute, mask
