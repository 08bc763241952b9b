"""Fixtures of the SimSwap plugin tests: the plugin registered in-process, the tiny test
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

from simswap_official_layout import TINY  # noqa: E402  (needs the path set above)


@pytest.fixture
def simswap_plugin():
    """zoo-plugin-simswap registered in-process."""
    import zoo_plugin_simswap

    registry.add_plugin(zoo_plugin_simswap, name="simswap", distribution="zoo-plugin-simswap")
    return zoo_plugin_simswap


@pytest.fixture
def tiny_config(simswap_plugin) -> dict:
    """The full (default + tiny) config of simswap-224, as ``zoo convert`` passes it."""
    return {**registry.get_model_spec("simswap-224").default_config, **TINY}


@pytest.fixture(scope="session")
def installed_simswap(pip_install_plugin) -> Path:
    """The plugin really installed with pip into a folder (entry points need a distribution)."""
    return pip_install_plugin(PLUGIN_ROOT)
