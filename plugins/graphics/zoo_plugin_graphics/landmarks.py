"""68-point landmarks of aligned face crops: dlib's HOG detector finds the face box on a
half-size copy, dlib's 68-point shape predictor places the points on the full crop."""

from __future__ import annotations

import cv2
import numpy as np

from zoo_core.errors import NoFaceError
from zoo_core.nets.dlib_models import face_recognition_models_dir

DETECT_SIDE = 256
"""Side of the copy the detector runs on: an FFHQ-aligned face spans ~58% of the crop, ~150 px
here, above the HOG window (80 px) without upsampling."""


class CropLandmarks:
    """``landmarks(crop, name)``: the ``(68, 2)`` iBUG points of the face in an aligned RGB crop."""

    def __init__(self) -> None:
        import dlib

        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(face_recognition_models_dir() / "shape_predictor_68_face_landmarks.dat"))
        self._rectangle = dlib.rectangle

    def __call__(self, crop: np.ndarray, name: str) -> np.ndarray:
        size = crop.shape[0]
        scale = size / DETECT_SIDE
        small = cv2.resize(crop, (DETECT_SIDE, DETECT_SIDE), interpolation=cv2.INTER_AREA)
        rects, _, _ = self._detector.run(small, 0, 0.0)
        if not rects:
            raise NoFaceError(f"{name}: dlib's HOG detector finds no face in the aligned crop "
                              "(the graphics swap needs a near-frontal, unoccluded face)")
        box = max(rects, key=lambda r: r.width() * r.height())
        rect = self._rectangle(*(round(v * scale) for v in (box.left(), box.top(), box.right(), box.bottom())))
        shape = self._predictor(np.ascontiguousarray(crop), rect)
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
