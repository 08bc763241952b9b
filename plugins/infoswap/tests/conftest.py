"""Fixtures of the InfoSwap plugin tests: the plugin registered in-process, the tiny test
configuration, and the real face photos."""

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


@pytest.fixture
def infoswap_plugin():
    """zoo-plugin-infoswap registered in-process."""
    import zoo_plugin_infoswap

    registry.add_plugin(zoo_plugin_infoswap, name="infoswap", distribution="zoo-plugin-infoswap")
    return zoo_plugin_infoswap


