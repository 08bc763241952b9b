"""Fixtures of the CVAE-GAN plugin tests: the plugin registered in-process, the tiny test
configuration, and a real pip installation for entry points (registry isolation: the root
conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from zoo_core import registry

TESTS = Path(__file__).resolve().parent
PLUGIN_ROOT = TESTS.parent
for path in (str(PLUGIN_ROOT), str(TESTS)):  # the plugin from this tree, and the test helpers
    if path not in sys.path:
        sys.path.insert(0, path)

from cvae_gan_official_layout import TINY  # noqa: E402  (needs the path set above)


@pytest.fixture
def cvae_gan_plugin():
    """zoo-plugin-cvae-gan registered in-process."""
    import zoo_plugin_cvae_gan

    registry.add_plugin(zoo_plugin_cvae_gan, name="cvae-gan", distribution="zoo-plugin-cvae-gan")
    return zoo_plugin_cvae_gan


@pytest.fixture
def tiny_config(cvae_gan_plugin) -> dict:
    """The full (default + tiny) config of cvae-gan-224, as ``zoo convert`` passes it."""
    return {**registry.get_model_spec("cvae-gan-224").default_config, **TINY}


@pytest.fixture(scope="session")
def installed_cvae_gan(pip_install_plugin) -> Path:
    """The plugin really installed with pip into a folder (entry points need a distribution)."""
    return pip_install_plugin(PLUGIN_ROOT)
