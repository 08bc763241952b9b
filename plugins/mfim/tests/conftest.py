"""Fixtures of the MFIM plugin tests: the plugin registered in-process and the tiny configuration
(registry isolation: the root conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from zoo_core import registry

TESTS = Path(__file__).resolve().parent
for path in (str(TESTS.parent), str(TESTS)):
    if path not in sys.path:
        sys.path.insert(0, path)

from mfim_tiny import TINY  # noqa: E402  (needs the path set above)


@pytest.fixture
def mfim_plugin():
    """zoo-plugin-mfim registered in-process."""
    import zoo_plugin_mfim

    registry.add_plugin(zoo_plugin_mfim, name="mfim", distribution="zoo-plugin-mfim")
    return zoo_plugin_mfim


@pytest.fixture
def tiny_model(mfim_plugin):
    """A tiny MFIM (64 px generator, 64 px encoder input) with non-zero noise strengths, so that
    the style maps reach the image as they do in a pretrained generator."""
    import torch

    torch.manual_seed(0)
    model = registry.create_model("mfim-1024", **TINY)
    with torch.no_grad():
        for name, parameter in model.generator.named_parameters():
            if name.endswith("noise.weight"):
                parameter.fill_(0.1)
    return model
