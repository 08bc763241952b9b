"""How a plugin's test tree (``plugins/<name>/tests/conftest.py``) is wired up: the plugin from this
checkout and its test helpers on ``sys.path``, the plugin registered in-process, and the plugin
really installed with pip (the root conftest's ``pip_install_plugin``)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest


def plugin_tests_on_path(conftest: str) -> Path:
    """Put the plugin folder (its package, from this tree) and its tests folder (its test
    helpers) of the conftest at ``conftest`` on ``sys.path``; returns the plugin folder."""
    tests = Path(conftest).resolve().parent
    for path in (str(tests.parent), str(tests)):
        if path not in sys.path:
            sys.path.insert(0, path)
    return tests.parent


def in_process_plugin(package: str, name: str):
    """A fixture that registers ``package`` in-process as plugin ``name`` of the distribution
    ``zoo-plugin-<name>`` (the root conftest resets the registry after each test) and returns
    the module."""

    def plugin():
        from zoo_core import registry

        module = importlib.import_module(package)
        registry.add_plugin(module, name=name, distribution=f"zoo-plugin-{name}")
        return module

    plugin.__doc__ = f"zoo-plugin-{name} registered in-process."
    return pytest.fixture(plugin)


def installed_plugin(root: Path):
    """A session fixture: the plugin at ``root`` really installed with pip into a folder (entry
    points need a distribution); it returns that folder."""

    def installed(pip_install_plugin) -> Path:
        return pip_install_plugin(root)

    installed.__doc__ = f"zoo-plugin-{root.name} installed with pip into a folder (its path)."
    return pytest.fixture(scope="session")(installed)


def full_config(model: str, overrides: dict, plugin: str):
    """A fixture: ``model``'s default config updated with ``overrides`` (the full config, as
    ``zoo convert`` passes it to a converter), with the plugin fixture ``plugin`` in use."""

    def config(request: pytest.FixtureRequest) -> dict:
        from zoo_core import registry

        request.getfixturevalue(plugin)
        return {**registry.get_model_spec(model).default_config, **overrides}

    config.__doc__ = f"The full (default + tiny) config of {model}, as ``zoo convert`` passes it."
    return pytest.fixture(config)
