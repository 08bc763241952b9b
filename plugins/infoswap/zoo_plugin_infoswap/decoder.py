"""U-Net decoder dec(.) of Eq. 14: perceptual features f_i and controllers lambda_i -> the
multi-scale inputs of the AII (official ``UnetDecoder512`` / ``UnetDecoder1024`` layout).

Widths are ``channels / 2**k`` (released: ``channels = 1024``); inputs are the IR-SE50 features,
whose widths are the IR-SE50 stage widths ``widths`` (64, 128, 256).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def upsample(x: torch.Tensor) -> torch.Tensor:
    """Bilinear x2 with aligned corners, as every upsampling of the official networks."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


class Down(nn.Sequential):
    """``conv4x4``: Conv 4x4 stride 2 (no bias), BatchNorm, LeakyReLU(0.1)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(nn.Conv2d(in_ch, out_ch, 4, 2, 1, bias=False), nn.BatchNorm2d(out_ch), nn.LeakyReLU(0.1))


class Up(nn.Module):
    """``deconv4x4``: ConvTranspose 4x4 stride 2, BatchNorm, LeakyReLU(0.1), then concat the skip."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.deconv = nn.ConvTranspose2d(in_ch, out_ch, 4, 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return torch.cat((F.leaky_relu(self.bn(self.deconv(x)), 0.1), skip), dim=1)


class UnetDecoder(nn.Module):
    """dec(.) for 512 (``high_res=False``) or 1024 (``high_res=True``) generation.

    512: the first perceptual input is the target image itself, encoded by ``conv_0`` (Conv
    4x4/2): the supplement's learned background encoding. 1024: the first feature goes through
    ``conv_1`` (PixelShuffle + 3x3 conv) and the 1024 image through ``conv_0`` into one more
    level (``deconv7``).
    """

    def __init__(self, channels: int = 1024, high_res: bool = False, widths: tuple[int, ...] = (64, 128, 256, 512)) -> None:
        super().__init__()
        c, (w0, w1, w2) = channels, widths[:3]
        self.high_res = high_res
        self.conv_0 = nn.Conv2d(3, c // 32, 4, 2, 1, bias=False)
        self.conv_1 = nn.Sequential(nn.PixelShuffle(2), nn.Conv2d(w0 // 4, c // 32, 3, 1, 1, bias=False))
        self.conv_2 = nn.Conv2d(w0, c // 16, 3, 1, 1, bias=False)
        self.conv_3 = nn.Conv2d(2 * w0, c // 8, 3, 1, 1, bias=False)
        self.conv_4 = nn.Conv2d(2 * w1, c // 4, 3, 1, 1, bias=False)
        self.conv_5 = nn.Conv2d(2 * w1, c // 2, 4, 2, 1, bias=False)
        self.conv_6 = nn.Conv2d(2 * w2, c, 4, 2, 1, bias=False)
        self.conv7 = Down(c, c)
        self.deconv1 = Up(c, c)
        self.deconv2 = Up(2 * c, c // 2)
        self.deconv3 = Up(c, c // 4)
        self.deconv4 = Up(c // 2, c // 8)
        self.deconv5 = Up(c // 4, c // 16)
        self.deconv6 = Up(c // 8, c // 32)
        if high_res:
            self.deconv7 = Up(c // 16, c // 32)

    def _levels(self, x: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """The shared part: features 2..10 -> levels at 1/2 .. 1/32 of the 512 crop."""
        return [
            self.conv_2(upsample(x[1])),
            self.conv_3(torch.cat((x[2], x[3]), 1)),
            self.conv_4(torch.cat((x[4], x[5]), 1)),
            self.conv_5(torch.cat((x[6], x[7]), 1)),
            self.conv_6(torch.cat((x[8], x[9]), 1)),
        ]

    def features(self, feats: Sequence[torch.Tensor], image: torch.Tensor | None = None) -> list[torch.Tensor]:
        """f~_i: 8 maps (512) or 9 maps (1024), coarsest first.

        512: ``feats[0]`` must be the target image (3 channels, the 512 crop in [-1, 1]).
        1024: ``feats[0]`` is the first IR-SE50 feature and ``image`` the 1024 crop.
        """
        if self.high_res:
            if image is None:
                raise ValueError("the 1024 decoder needs the 1024 image")
            first = self.conv_1(feats[0])
        else:
            first = self.conv_0(feats[0])
        feat2, feat3, feat4, feat5, feat6 = self._levels(feats)
        out = [self.conv7(feat6)]
        for up, skip in ((self.deconv1, feat6), (self.deconv2, feat5), (self.deconv3, feat4),
                         (self.deconv4, feat3), (self.deconv5, feat2), (self.deconv6, first)):
            out.append(up(out[-1], skip))
        if self.high_res:
            out.append(self.deconv7(out[-1], self.conv_0(image)))
        out.append(upsample(out[-1]))
        return out

    def controllers(self, lambdas: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """lambda~_i: the controllers through the same convolutions, coarsest first."""
        first = self.conv_1(lambdas[0])
        feat2, feat3, feat4, feat5, feat6 = self._levels(lambdas)
        finest = [upsample(first)]
        if self.high_res:
            finest.append(upsample(finest[0]))
        return [self.conv7(feat6), feat6, feat5, feat4, feat3, feat2, first, *finest]
