"""Fixtures of the graphics plugin tests: the plugin registered in-process, one built model for
the session, aligned 512 px crops of real faces, and a real pip installation for entry points
(registry isolation: the root conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest
from zoo_testing.plugins import in_process_plugin, installed_plugin, plugin_tests_on_path

PLUGIN_ROOT = plugin_tests_on_path(__file__)
SIZE = 512

graphics_plugin = in_process_plugin("zoo_plugin_graphics", "graphics")
installed_graphics = installed_plugin(PLUGIN_ROOT)


@pytest.fixture(scope="session")
def spec():
    """The graphics-512 spec as the plugin registers it (no registry needed)."""
    import zoo_plugin_graphics

    specs: list = []
    zoo_plugin_graphics.register_models(register=specs.append)
    return specs[0]


@pytest.fixture(scope="session")
def model(spec):
    """graphics-512 at its default configuration, built once (loading dlib's models)."""
    from zoo_plugin_graphics.model import build

    return build(spec, spec.default_config)


@pytest.fixture(scope="session")
def aligner():
    """``aligner(rgb) -> (512, 512, 3) uint8``: the largest face aligned to the FFHQ template,
    as the pipeline aligns it."""
    from zoo_core.faces.align import Template, align_face
    from zoo_core.faces.detect import DlibDetector
    from zoo_core.faces.templates import FFHQ_512

    detector, template = DlibDetector(), Template("ffhq", np.array([FFHQ_512]) / 512.0)

    def align(rgb: np.ndarray) -> np.ndarray:
        return align_face(rgb, detector.detect(rgb)[0].landmarks, template, SIZE).crop

    return align


@pytest.fixture(scope="session")
def astronaut_pair(aligner) -> tuple[np.ndarray, np.ndarray]:
    """skimage's astronaut (public domain, always available) and her mirror image, aligned: two
    real faces whose mouths and eyes differ in layout."""
    from skimage.data import astronaut

    image = astronaut()
    return aligner(image), aligner(np.ascontiguousarray(image[:, ::-1]))


@pytest.fixture(scope="session")
def photo_crop(faces_dir, aligner):
    """``photo_crop("face_recognition/obama/obama.jpg")``: the aligned crop of a shared photo."""
    from zoo_core.faces.io import read_image

    def crop(relative: str) -> np.ndarray:
        return aligner(read_image(faces_dir / relative)[0])

    return crop
