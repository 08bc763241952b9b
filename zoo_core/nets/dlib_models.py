"""Where dlib's model files live: the ``face-recognition-models`` package (HOG/CNN detectors,
5- and 68-point landmark models, the 128-d ResNet recognizer), found without importing it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from zoo_core.errors import ZooError


def face_recognition_models_dir() -> Path:
    """The model folder of ``face-recognition-models`` (found without importing it: its
    ``__init__`` needs ``pkg_resources``, absent from new setuptools)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ZooError("the dlib models are missing: pip install face-recognition-models")
    return Path(next(iter(spec.submodule_search_locations))) / "models"
