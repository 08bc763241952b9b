"""dlib's face recognition ResNet as a frozen identity encoder on a model's aligned crops.

A trainer sees crops aligned to its model's template (SimSwap-224's insightface poses, FFHQ,
...), while ``dlib-resnet-128`` expects dlib's 150 px chips. :class:`ChipIdentityEncoder` cuts
the chip from the crop with one fixed similarity transform and ``grid_sample``, so gradients
flow from the descriptor back to the crop's pixels.

The transform treats the template's 5 points as the face's landmarks: dlib's mean face
(the 68-point mean shape of ``get_face_chip_details``, ``image_transforms/interpolation.h``)
gives the same 5 points as the face pipeline takes from 68 landmarks (eye centres, nose tip,
mouth corners; :func:`zoo_core.faces.detect.five_from_68`); their least-squares similarity onto
the template (the best-fitting pose of a multi-pose template) places dlib's 5-point landmarks
in the crop, and :func:`zoo_core.faces.dlib_chip.face_chip_details` turns these into the chip's
rectangle exactly as dlib does. dlib itself fits each face's own 68 landmarks, so the chip
differs from dlib's by how far the face is from the template: docs/models/dlib-resnet.md
gives the measured agreement.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.errors import ConfigError
from zoo_core.faces.align import Template, estimate_alignment, get_template
from zoo_core.faces.detect import five_from_68
from zoo_core.faces.dlib_chip import DLIB_FIVE_POINTS, ChipDetails, face_chip_details
from zoo_core.nets.dlib_resnet import INPUT_SIZE, DlibResNet

__all__ = [
    "CHIP_PADDING",
    "DLIB_MEAN_FACE_68",
    "ChipIdentityEncoder",
    "build_crop_identity_encoder",
    "chip_theta",
    "embedding_size",
    "template_landmarks",
]

CHIP_PADDING = 0.25
"""dlib's padding of the face box in the chip (``get_face_chip(image, shape, 150, 0.25)``)."""

_MEAN_X = (
    0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124,
    0.904991, 0.98004, 0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036,
    0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918,
    0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149,
    0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
    0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874,
    0.553364, 0.490127, 0.42689,
)
_MEAN_Y = (
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891,
    0.0187482, 0.038915, 0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326,
    0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733,
    0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099,
    0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805,
    0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746,
    0.784792, 0.824182, 0.831803, 0.824182,
)
DLIB_MEAN_FACE_68 = np.vstack([np.full((17, 2), np.nan), np.stack([_MEAN_X, _MEAN_Y], axis=1)])
"""dlib's mean face shape in its unit face box, iBUG points 17-67 (the jaw, 0-16, is not part
of it: NaN), as ``get_face_chip_details`` holds it for 68-point shapes."""


def _to_chip(unit_points: np.ndarray) -> np.ndarray:
    """Unit face-box points -> chip pixels (dlib's ``(padding + p) / (2 padding + 1) * size``)."""
    return (CHIP_PADDING + unit_points) / (2 * CHIP_PADDING + 1) * INPUT_SIZE


def template_landmarks(template: Template, crop_size: int) -> np.ndarray:
    """dlib's 5 landmarks ``(5, 2)`` (``shape_predictor_5_face_landmarks`` order) of a face that
    sits exactly on the template, in the pixels of a ``crop_size`` crop: dlib's mean face placed
    on the template by the least-squares similarity of their common 5 points."""
    chip_to_crop = estimate_alignment(_to_chip(five_from_68(DLIB_MEAN_FACE_68)), template, crop_size)
    return np.hstack([_to_chip(DLIB_FIVE_POINTS), np.ones((5, 1))]) @ chip_to_crop.T


def chip_theta(details: ChipDetails, crop_size: int) -> torch.Tensor:
    """The ``(2, 3)`` ``affine_grid`` matrix (``align_corners=False``) that samples the chip of
    ``details`` from a ``crop_size`` crop: dlib's corner-to-corner grid, in normalised units."""
    top_left, top_right, bottom_left, _ = details.corners()
    steps = details.size - 1
    chip_to_crop = np.eye(3)
    chip_to_crop[:2] = np.column_stack([(top_right - top_left) / steps, (bottom_left - top_left) / steps, top_left])
    unnormalise = np.array([[details.size / 2, 0, (details.size - 1) / 2], [0, details.size / 2, (details.size - 1) / 2],
                            [0, 0, 1]])
    normalise = np.array([[2 / crop_size, 0, 1 / crop_size - 1], [0, 2 / crop_size, 1 / crop_size - 1], [0, 0, 1]])
    return torch.from_numpy((normalise @ chip_to_crop @ unnormalise)[:2]).float()


class ChipIdentityEncoder(nn.Module):
    """dlib's descriptor ``(N, 128)`` of aligned ``(N, 3, S, S)`` crops in [0, 1], any ``S``.

    The crop is first shrunk by a power of two with antialiasing where dlib would sample from a
    ``pyramid_down`` level, then the chip is sampled bilinearly, black outside the crop (as
    dlib's). Children: ``network`` (:class:`DlibResNet`).
    """

    def __init__(self, network: DlibResNet, template: Template) -> None:
        super().__init__()
        self.network = network
        self.template = template
        self._plans: dict[int, tuple[torch.Tensor, int]] = {}

    def plan(self, crop_size: int) -> tuple[torch.Tensor, int]:
        """The sampling matrix for ``crop_size`` crops and the side the crop is first shrunk to:
        as dlib, which samples from the ``pyramid_down`` level where the chip takes at most 2
        pixels per chip pixel, the crop is halved that many times (antialiased); once per size."""
        if crop_size not in self._plans:
            details = face_chip_details(template_landmarks(self.template, crop_size), INPUT_SIZE, CHIP_PADDING)
            top_left, top_right = details.corners()[:2]
            crop_pixels_per_chip_pixel = float(np.hypot(*(top_right - top_left))) / (details.size - 1)
            halvings = max(0, math.ceil(math.log2(crop_pixels_per_chip_pixel)) - 1)
            shrunk = round(crop_size / 2**halvings)
            self._plans[crop_size] = chip_theta(details, crop_size), shrunk
        return self._plans[crop_size]

    def chips(self, crops: torch.Tensor) -> torch.Tensor:
        """``(N, 3, 150, 150)`` chips of ``(N, 3, S, S)`` crops, differentiable in the crops."""
        if crops.ndim != 4 or crops.shape[1] != 3 or crops.shape[2] != crops.shape[3]:
            raise ValueError(f"expected square (N, 3, S, S) crops, got {tuple(crops.shape)}")
        theta, shrunk = self.plan(crops.shape[-1])
        grid = F.affine_grid(theta.to(crops).expand(crops.shape[0], 2, 3), [crops.shape[0], 3, INPUT_SIZE, INPUT_SIZE],
                             align_corners=False)
        if shrunk < crops.shape[-1]:  # normalised coordinates do not change with the resize
            crops = F.interpolate(crops, size=(shrunk, shrunk), mode="bilinear", align_corners=False, antialias=True)
        return F.grid_sample(crops, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.network(self.chips(crops))


def build_crop_identity_encoder(name: str, template: str) -> nn.Module:
    """The registered identity encoder ``name`` taking crops aligned to ``template``: networks
    on dlib chips (``dlib-resnet-128``) are wrapped in :class:`ChipIdentityEncoder`; the others
    (the ArcFace family) already resize crops themselves."""
    from zoo_core.registry import create_component, get_component_spec

    spec = get_component_spec(name)
    if spec.kind != "identity_encoder":
        raise ConfigError(f"component {name!r} is a {spec.kind}, not an identity encoder")
    encoder = create_component(name)
    if isinstance(encoder, DlibResNet):
        return ChipIdentityEncoder(encoder, get_template(template))
    return encoder


def embedding_size(encoder: nn.Module, crop_size: int = 64) -> int:
    """The length of the embedding of ``encoder`` (in eval mode): one forward pass of a blank crop."""
    device = next(encoder.parameters()).device
    with torch.no_grad():
        return int(encoder(torch.zeros(1, 3, crop_size, crop_size, device=device)).shape[-1])
