"""dlib's 128-d face descriptors computed by the PyTorch port of its ResNet (``dlib-resnet-torch``).

Landmarks and chips come from dlib exactly as the ``dlib-resnet`` recognizer gets them (68-point
predictor on the face box, ``get_face_chip(image, shape, 150, 0.25)``); the network is
:class:`zoo_core.nets.dlib_resnet.DlibResNet` on any torch device, so the vectors equal
``dlib-resnet``'s within float rounding and many faces can be described in one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zoo_core.faces.detect import DlibLandmarker, Face
from zoo_core.faces.recognize import DlibRecognizer


class DlibTorchRecognizer:
    """``describe(image, face)`` and batched ``describe_batch(images, faces)`` with the torch net."""

    name = "dlib-resnet-torch"
    same_person_distance = DlibRecognizer.same_person_distance

    def __init__(self, device: str = "cpu", batch_size: int = 64) -> None:
        from zoo_core.nets.dlib_resnet import EMBEDDING_DIM, INPUT_SIZE, load_dlib_resnet

        self.landmarker = DlibLandmarker("the dlib-resnet-torch recognizer (landmarks and chips)")
        self.chip_size, self.embedding_dim = INPUT_SIZE, EMBEDDING_DIM
        self.net = load_dlib_resnet().to(device)
        self.batch_size = batch_size

    def chip(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The ``(150, 150, 3) uint8`` chip dlib cuts for ``face`` (landmarks recomputed by dlib)."""
        image = np.ascontiguousarray(image)
        shape = self.landmarker.shape(image, face.box)
        return np.asarray(self.landmarker.dlib.get_face_chip(image, shape, self.chip_size, 0.25))

    def describe_batch(self, images: Sequence[np.ndarray], faces: Sequence[Face]) -> np.ndarray:
        """``(N, 128)`` descriptors of ``faces[i]`` in ``images[i]``, the network run in batches."""
        chips = [self.chip(image, face) for image, face in zip(images, faces, strict=True)]
        if not chips:
            return np.zeros((0, self.embedding_dim), np.float32)
        return self.net.embed_chips(np.stack(chips), self.batch_size)

    def describe(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The descriptor of ``face`` in ``image``."""
        return self.describe_batch([image], [face])[0]


def build_dlib_torch_recognizer(config: dict[str, Any]) -> DlibTorchRecognizer:
    return DlibTorchRecognizer(**config)
