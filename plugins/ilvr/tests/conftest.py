"""Fixtures of the ILVR plugin tests: the plugin registered in-process, tiny configurations, and
a real pip installation for entry points (registry isolation: the root conftest.py)."""

from __future__ import annotations

import pytest
from zoo_testing.plugins import in_process_plugin, installed_plugin, plugin_tests_on_path

from zoo_core import registry

PLUGIN_ROOT = plugin_tests_on_path(__file__)

from ilvr_official_layout import tiny_config  # noqa: E402  (needs the path set above)

ilvr_plugin = in_process_plugin("zoo_plugin_ilvr", "ilvr")
installed_ilvr = installed_plugin(PLUGIN_ROOT)


@pytest.fixture
def tiny_ddpm(ilvr_plugin):
    """ilvr-celebahq-256 built with a tiny DDPM UNet at 32 px and 10 respaced steps."""
    import torch

    torch.manual_seed(0)
    spec = registry.get_model_spec("ilvr-celebahq-256")
    return registry.create_model("ilvr-celebahq-256", **tiny_config(spec.default_config, downsample_factor=4,
                                                                    conditioning_range=0)).eval()
