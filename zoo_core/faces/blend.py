"""Paste a swapped crop back into the full image: inverse warp, feathered mask, colour match.

Pixels where the mask is zero are copied from the target unchanged (bit-identical); only the
face's bounding region is processed, so large frames stay cheap.
"""

from __future__ import annotations

import cv2
import numpy as np


def crop_mask(size: int, points: np.ndarray | None = None, erode: float = 0.06, blur: float = 0.08) -> np.ndarray:
    """A feathered ``(size, size)`` float mask in crop coordinates.

    With the face's 5 landmarks in crop coordinates (``points``), the mask is an ellipse over the
    face: centred between the eye and mouth centres, half-width 1.05 eye distances, half-height
    1.25 eye-to-mouth distances (brows to chin), so background and hair stay the target's.
    Without them it covers the whole crop. The crop border is eroded by ``erode * size`` pixels
    and the edge blurred with a Gaussian of sigma ``blur * size / 3``: both proportional to the
    face size, since the crop is.
    """
    mask = np.zeros((size, size), dtype=np.float32)
    margin = int(round(erode * size))
    mask[margin : size - margin, margin : size - margin] = 1.0
    if points is not None:
        points = np.asarray(points, dtype=np.float64)
        eyes, mouth = points[:2].mean(0), points[3:].mean(0)
        eye_axis = points[1] - points[0]
        angle = float(np.degrees(np.arctan2(eye_axis[1], eye_axis[0])))
        half_width = 1.05 * np.linalg.norm(eye_axis)
        half_height = 1.25 * np.linalg.norm(mouth - eyes)
        center = (eyes + mouth) / 2.0
        ellipse = np.zeros_like(mask)
        cv2.ellipse(ellipse, (round(center[0] * 16), round(center[1] * 16)),
                    (round(half_width * 16), round(half_height * 16)), angle, 0, 360, 1.0, -1, cv2.LINE_AA, 4)
        mask *= ellipse
    sigma = blur * size / 3.0
    if sigma > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_CONSTANT)
        mask[mask < 1e-3] = 0.0  # the feather's far tail would otherwise touch every pixel
    return mask


def match_colors(swapped: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Reinhard colour transfer in Lab: give ``swapped`` the mean and std of ``reference`` over
    the mask (both crops in the same coordinates)."""
    weight = mask > 0.5
    if weight.sum() < 16:
        return swapped
    src = cv2.cvtColor(swapped, cv2.COLOR_RGB2LAB).astype(np.float32)
    ref = cv2.cvtColor(reference, cv2.COLOR_RGB2LAB).astype(np.float32)
    src_mean, src_std = src[weight].mean(0), src[weight].std(0) + 1e-6
    ref_mean, ref_std = ref[weight].mean(0), ref[weight].std(0) + 1e-6
    out = (src - src_mean) / src_std * ref_std + ref_mean
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def _region(matrix: np.ndarray, size: int, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """Integer bounding box (x0, y0, x1, y1) in the image of the crop's footprint, clipped."""
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=np.float64) @ inverse.T
    x0, y0 = np.floor(corners.min(0)).astype(int) - 1
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 2
    h, w = shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def paste_back(
    target: np.ndarray,
    swapped: np.ndarray,
    matrix: np.ndarray,
    *,
    points: np.ndarray | None = None,
    erode: float = 0.06,
    blur: float = 0.08,
    color_match: bool = False,
    target_crop: np.ndarray | None = None,
) -> np.ndarray:
    """Return a copy of ``target`` with ``swapped`` (a crop made with ``matrix``) blended in.

    ``points`` are the face's 5 landmarks in crop coordinates (see ``crop_mask``).
    ``color_match`` needs ``target_crop``, the target's own aligned crop with the same matrix.
    """
    size = swapped.shape[0]
    mask = crop_mask(size, points, erode, blur)
    if color_match:
        if target_crop is None:
            raise ValueError("color_match needs the target's aligned crop")
        swapped = match_colors(swapped, target_crop, mask)
    out = target.copy()
    region = _region(matrix, size, target.shape)
    if region is None:
        return out
    x0, y0, x1, y1 = region
    shifted = matrix.astype(np.float64).copy()
    shifted[:, 2] += shifted[:, :2] @ np.array([x0, y0], dtype=np.float64)  # crop <- region coords
    box = (x1 - x0, y1 - y0)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    face = cv2.warpAffine(swapped, shifted, box, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    alpha = cv2.warpAffine(mask, shifted, box, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    inside = alpha > 0
    original = target[y0:y1, x0:x1].astype(np.float32)
    blended = alpha[..., None] * face.astype(np.float32) + (1.0 - alpha[..., None]) * original
    patch = out[y0:y1, x0:x1]
    patch[inside] = np.clip(np.rint(blended[inside]), 0, 255).astype(np.uint8)
    return out
