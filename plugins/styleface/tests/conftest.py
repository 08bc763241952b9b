"""Fixtures of the StyleFace plugin tests: the plugin registered in-process, a tiny 64 px
variant for fast end-to-end runs, and the real face photos (registry isolation: the root
conftest.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from zoo_testing.plugins import in_process_plugin, plugin_tests_on_path

from zoo_core import registry
from zoo_core.hookspecs import hookimpl
from zoo_core.specs import ModelSpec

plugin_tests_on_path(__file__)

from styleface_tiny import TINY  # noqa: E402  (needs the path set above)


@hookimpl
def _register_tiny(register) -> None:
    from zoo_plugin_styleface import CAPABILITIES, PAPER
    from zoo_plugin_styleface.config import StyleFaceConfig

    config = StyleFaceConfig(**TINY).model_dump(mode="json")
    register(ModelSpec(name="styleface-64", family="styleface", resolution=64, template="ffhq",
                       builder="zoo_plugin_styleface.model:build", capabilities=CAPABILITIES,
                       default_config=config, paper=PAPER, license="apache-2.0"))
    register(ModelSpec(name="swaponly-64", family="swaponly", resolution=64, template="ffhq",
                       builder="zoo_plugin_styleface.model:build", default_config=config))


styleface_plugin = in_process_plugin("zoo_plugin_styleface", "styleface")


@pytest.fixture
def tiny_variant(styleface_plugin) -> str:
    """A 64 px StyleFace variant ``styleface-64`` (and a swap-only ``swaponly-64``)."""
    registry.add_plugin(SimpleNamespace(register_models=_register_tiny), name="styleface-tiny",
                        distribution="styleface-tests")
    return "styleface-64"


@pytest.fixture
def tiny_model():
    import torch
    from zoo_plugin_styleface.config import StyleFaceConfig
    from zoo_plugin_styleface.model import StyleFace

    torch.manual_seed(0)
    return StyleFace(None, StyleFaceConfig(**TINY)).eval()


_DETECTORS: dict[str, object] = {}


@pytest.fixture
def cached_detector(monkeypatch):
    """``create_detector`` builds each detector once per session (dlib loads its models in
    seconds); the CLI paths under test get the cached instance."""
    from zoo_core.faces import detect, swapper

    build = detect.create_detector

    def create(name: str = "dlib-hog", **overrides):
        if overrides:
            return build(name, **overrides)
        if name not in _DETECTORS:
            _DETECTORS[name] = build(name)
        return _DETECTORS[name]

    monkeypatch.setattr(detect, "create_detector", create)
    monkeypatch.setattr(swapper, "create_detector", create)


@pytest.fixture(scope="session")
def aligned_faces(faces_dir, tmp_path_factory) -> Path:
    """The face_recognition photos (5 identities, 2-5 photos each) as 64 px FFHQ crops in
    identity folders."""
    from zoo_core.train.prepare import prepare_data

    out = tmp_path_factory.mktemp("styleface-data")
    prepare_data(faces_dir / "face_recognition", out, template="ffhq", size=64, workers=1, progress=False)
    return out
