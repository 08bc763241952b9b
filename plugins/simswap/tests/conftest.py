"""Fixtures of the SimSwap plugin tests: the plugin registered in-process, the tiny test
configuration, and a real pip installation for entry points (registry isolation: the root
conftest.py)."""

from __future__ import annotations

from zoo_testing.plugins import (
    full_config,
    in_process_plugin,
    installed_plugin,
    plugin_tests_on_path,
)

PLUGIN_ROOT = plugin_tests_on_path(__file__)

from simswap_official_layout import TINY  # noqa: E402  (needs the path set above)

simswap_plugin = in_process_plugin("zoo_plugin_simswap", "simswap")
installed_simswap = installed_plugin(PLUGIN_ROOT)
tiny_config = full_config("simswap-224", TINY, "simswap_plugin")
