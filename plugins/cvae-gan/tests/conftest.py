"""Fixtures of the CVAE-GAN plugin tests: the plugin registered in-process, the tiny test
configuration, and a real pip installation for entry points (registry isolation: the root
conftest.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from zoo_core import registry

TESTS = Path(__file__).resolve().parent
PLUGIN_ROOT = TESTS.parent
for path in (str(PLUGIN_ROOT), str(TESTS)):  # the plugin from this tree, and the test helpers
    if path not in sys.path:
        sys.path.insert(0, path)

from cvae_gan_official_layout import TINY  # noqa: E402  (needs the path set above)


@pytest.fixture
def cvae_gan_plugin():
    """zoo-plugin-cvae-gan registered in-process."""
    import zoo_plugin_cvae_gan

    registry.add_plugin(zoo_plugin_cvae_gan, name="cvae-gan", distribution="zoo-plugin-cvae-gan")
    return zoo_plugin_cvae_gan


@pytest.fixture
def tiny_config(cvae_gan_plugin) -> dict:
    """The full (default + tiny) config of cvae-gan-224, as ``zoo convert`` passes it."""
    return {**registry.get_model_spec("cvae-gan-224").default_config, **TINY}


@pytest.fixture(scope="session")
def installed_cvae_gan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin really installed with pip into a folder (entry points need a distribution).

    A copy of the sources is built so that no build/ or egg-info appears in the tree; its
    dependencies (zoo-core, zoo-plugin-simswap) come from the test environment.
    """
    source = tmp_path_factory.mktemp("src") / "cvae-gan"
    source.mkdir()
    shutil.copy(PLUGIN_ROOT / "pyproject.toml", source)
    shutil.copytree(PLUGIN_ROOT / "zoo_plugin_cvae_gan", source / "zoo_plugin_cvae_gan",
                    ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        check=True, capture_output=True,
    )
    return target
