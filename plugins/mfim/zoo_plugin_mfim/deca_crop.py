"""A differentiable DECA-style crop of FFHQ-aligned faces for the 3DMM losses (MFIM Eq. 3-5).

DECA's encoder expects its landmark crop (a square of side 1.25 x 1.1 x the mean side of the
68-landmark box around the box centre, resized to 224). On FFHQ-aligned crops that box is
nearly fixed, so training uses one constant box instead of a landmark detector (which is not
differentiable): centre (0.498, 0.644) and side 0.733 of the crop side, the mean of DECA's
rule over dlib's 68 landmarks on 24 FFHQ-aligned real faces (std 0.04, 0.01 and 0.02).
The crop is a bilinear ``grid_sample`` (zeros outside, like DECA's ``warp``) after an
antialiased resize, so gradients reach the swap.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

FFHQ_DECA_BOX = (0.498, 0.644, 0.733)
"""(centre x, centre y, side) of DECA's crop on FFHQ-aligned crops, fractions of the crop side."""


def deca_crop_aligned(images: Tensor, size: int = 224, box: tuple[float, float, float] = FFHQ_DECA_BOX) -> Tensor:
    """(N, 3, H, W) aligned crops in [0, 1] -> (N, 3, size, size) DECA crops, differentiably."""
    cx, cy, side = box
    n = images.shape[0]
    pre = max(size, round(size / side))  # resample once near the crop's pixel density first
    if images.shape[-1] > pre:
        images = F.interpolate(images, size=(pre, pre), mode="bilinear", align_corners=False, antialias=True)
    theta = images.new_tensor([[side, 0.0, 2 * cx - 1], [0.0, side, 2 * cy - 1]]).expand(n, 2, 3)
    grid = F.affine_grid(theta, [n, 3, size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
