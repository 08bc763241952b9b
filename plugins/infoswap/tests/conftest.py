"""Fixtures of the InfoSwap plugin tests: the plugin registered in-process, the tiny test
configuration, and the real face photos."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from zoo_core import registry

TESTS = Path(__file__).resolve().parent
PLUGIN_ROOT = TESTS.parent
for path in (str(PLUGIN_ROOT), str(TESTS)):  # the plugin from this tree, and the test helpers
    if path not in sys.path:
        sys.path.insert(0, path)

FACES = Path(os.environ.get("ZOO_TEST_FACES", PLUGIN_ROOT.parents[1].parent / "shared" / "faces"))


@pytest.fixture
def infoswap_plugin():
    """zoo-plugin-infoswap registered in-process."""
    import zoo_plugin_infoswap

    registry.add_plugin(zoo_plugin_infoswap, name="infoswap", distribution="zoo-plugin-infoswap")
    return zoo_plugin_infoswap


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """The real-face test photos (../shared/faces, or ZOO_TEST_FACES); skips when absent."""
    if not (FACES / "manifest.csv").is_file():
        pytest.skip(f"real face photos not found at {FACES} (set ZOO_TEST_FACES)")
    return FACES
