"""Fixtures of the ILVR plugin tests: the plugin registered in-process and tiny configurations
(registry isolation: the root conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from zoo_core import registry

TESTS = Path(__file__).resolve().parent
PLUGIN_ROOT = TESTS.parent
for path in (str(PLUGIN_ROOT), str(TESTS)):
    if path not in sys.path:
        sys.path.insert(0, path)

from ilvr_official_layout import tiny_config  # noqa: E402  (needs the path set above)


@pytest.fixture
def ilvr_plugin():
    """zoo-plugin-ilvr registered in-process."""
    import zoo_plugin_ilvr

    registry.add_plugin(zoo_plugin_ilvr, name="ilvr", distribution="zoo-plugin-ilvr")
    return zoo_plugin_ilvr


@pytest.fixture
def tiny_ddpm(ilvr_plugin):
    """ilvr-celebahq-256 built with a tiny DDPM UNet at 32 px and 10 respaced steps."""
    import torch

    torch.manual_seed(0)
    spec = registry.get_model_spec("ilvr-celebahq-256")
    return registry.create_model("ilvr-celebahq-256", **tiny_config(spec.default_config, downsample_factor=4,
                                                                    conditioning_range=0)).eval()
