"""Fixtures of the MFIM plugin tests: the plugin registered in-process and the tiny configuration
(registry isolation: the root conftest.py)."""

from __future__ import annotations

import pytest
from zoo_testing.plugins import in_process_plugin, plugin_tests_on_path

from zoo_core import registry

plugin_tests_on_path(__file__)

from mfim_tiny import TINY  # noqa: E402  (needs the path set above)

mfim_plugin = in_process_plugin("zoo_plugin_mfim", "mfim")


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
