"""Fixtures of the CVAE-GAN plugin tests: the plugin registered in-process, the tiny test
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

from cvae_gan_official_layout import TINY  # noqa: E402  (needs the path set above)

cvae_gan_plugin = in_process_plugin("zoo_plugin_cvae_gan", "cvae-gan")
installed_cvae_gan = installed_plugin(PLUGIN_ROOT)
tiny_config = full_config("cvae-gan-224", TINY, "cvae_gan_plugin")
