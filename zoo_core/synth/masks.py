"""The paste-back mask of a fake face in image coordinates: the feathered face mask of
``zoo_core.faces.blend`` (``crop_mask``) warped from the crop into the image, exactly the
alpha ``paste_back`` blends with."""

from __future__ import annotations

import cv2
import numpy as np

from zoo_core.faces.align import AlignedFace
from zoo_core.faces.blend import crop_mask


def face_mask(shape: tuple[int, ...], face: AlignedFace) -> np.ndarray:
    """``(H, W)`` float alpha in [0, 1] of ``face``'s paste-back in an image of ``shape``."""
    size = face.crop.shape[0]
    alpha = crop_mask(size, face.points)
    return cv2.warpAffine(alpha, face.matrix.astype(np.float64), (shape[1], shape[0]),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def mask_image(shape: tuple[int, ...], faces: list[AlignedFace]) -> np.ndarray:
    """The union (maximum) of the faces' masks as ``(H, W)`` uint8 (0 = untouched pixel)."""
    mask = np.zeros(shape[:2], dtype=np.float32)
    for face in faces:
        mask = np.maximum(mask, face_mask(shape, face))
    return np.clip(np.ceil(mask * 255.0), 0, 255).astype(np.uint8)
