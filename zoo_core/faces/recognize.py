"""Face descriptors for picking the target face that matches a reference photo.

The default recognizer is dlib's 128-d ResNet (``dlib_face_recognition_resnet_model_v1.dat``
from ``face-recognition-models``, offline): same-identity pairs are close in Euclidean distance
(dlib's threshold for "same person" is 0.6).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo_core.faces.detect import DlibLandmarker, Face
from zoo_core.nets.dlib_models import face_recognition_models_dir


class DlibRecognizer:
    """128-d dlib face descriptors of detected faces."""

    name = "dlib-resnet"
    same_person_distance = 0.6

    def __init__(self, jitter: int = 0):
        self.landmarker = DlibLandmarker("the dlib-resnet recognizer")
        model_file = face_recognition_models_dir() / "dlib_face_recognition_resnet_model_v1.dat"
        self._model = self.landmarker.dlib.face_recognition_model_v1(str(model_file))
        self.jitter = jitter

    def describe(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The descriptor of ``face`` in ``image`` (landmarks recomputed with dlib's predictor)."""
        shape = self.landmarker.shape(image, face.box)
        return np.asarray(self._model.compute_face_descriptor(np.ascontiguousarray(image), shape, self.jitter), dtype=np.float32)


def build_dlib_recognizer(config: dict[str, Any]) -> DlibRecognizer:
    return DlibRecognizer(**config)


def closest(descriptors: list[np.ndarray], reference: np.ndarray) -> tuple[int, float]:
    """Index of the descriptor nearest ``reference`` and its Euclidean distance."""
    distances = [float(np.linalg.norm(d - reference)) for d in descriptors]
    best = int(np.argmin(distances))
    return best, distances[best]
