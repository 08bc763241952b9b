"""Fixtures of the InfoSwap plugin tests: the plugin from this tree and the test helpers on
``sys.path``, and the plugin registered in-process (registry isolation, the real face photos:
the root conftest.py)."""

from __future__ import annotations

from zoo_testing.plugins import in_process_plugin, plugin_tests_on_path

plugin_tests_on_path(__file__)

infoswap_plugin = in_process_plugin("zoo_plugin_infoswap", "infoswap")
