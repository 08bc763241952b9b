"""68-point landmarks of aligned face crops: the core's dlib detector (HOG on a copy of
``DETECT_SIDE`` pixels, no upsampling) finds the face, dlib's 68-point shape predictor places the
points on the full crop."""

from __future__ import annotations

import numpy as np

from zoo_core.errors import NoFaceError
from zoo_core.faces.detect import DlibDetector

DETECT_SIDE = 256
"""Side of the copy the detector runs on: an FFHQ-aligned face spans ~58% of the crop, ~150 px
here, above the HOG window (80 px) without upsampling."""


class CropLandmarks:
    """``landmarks(crop, name)``: the ``(68, 2)`` iBUG points of the face in an aligned RGB crop."""

    def __init__(self) -> None:
        self._detector = DlibDetector(upsample=0, max_side=DETECT_SIDE)

    def __call__(self, crop: np.ndarray, name: str) -> np.ndarray:
        faces = self._detector.detect(crop)
        if not faces:
            raise NoFaceError(f"{name}: dlib's HOG detector finds no face in the aligned crop "
                              "(the graphics swap needs a near-frontal, unoccluded face)")
        return faces[0].landmarks68.astype(np.float64)
