"""Entry-point loading with real installed distributions (pip --target), in subprocesses: the
test distributions, and every plugin of plugins/ (its entry point, and a start-up that imports
neither torch nor its model code; what is particular to one plugin stays in its own tests)."""

from __future__ import annotations

import importlib
import json
import re
from importlib import metadata
from pathlib import Path

import pytest

from zoo_core import registry

ALL = {"ZOO_LOAD_PLUGINS": "example,broken,duplicate,misspelt,zoo-test-same-entry-point"}
PLUGIN_ROOTS = sorted(path.parent for path in (Path(__file__).resolve().parents[1] / "plugins").glob("*/pyproject.toml"))
HEAVY = {"torch", "safetensors", "numpy", "cv2", "dlib", "diffusers"}
"""Top-level packages that ``zoo list``/``zoo info``/``zoo plugins`` must not import."""
MODEL_CODE = ("model", "convert", "pipeline", "train")
"""A plugin's modules that need torch; its hook module must not import them at start-up."""


def plugins_json(zoo_cli, site, env):
    result = zoo_cli("plugins", "--json", pythonpath=site, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_good_plugin_loads_and_bad_ones_are_reported(zoo_cli, installed_dists):
    data = plugins_json(zoo_cli, installed_dists, ALL)
    by_dist = {p["distribution"]: p for p in data["plugins"]}
    assert by_dist["zoo-plugin-example"]["error"] is None
    assert by_dist["zoo-plugin-example"]["version"] == "0.1.0"
    assert "this plugin is broken on purpose" in by_dist["zoo-test-broken"]["error"]
    assert "register_model" in by_dist["zoo-test-misspelt-hook"]["error"]
    same = by_dist["zoo-test-same-entry-point"]["error"]
    assert "'zoo-plugin-example'" in same and "'zoo-test-same-entry-point'" in same
    [conflict] = data["errors"]
    assert "'example-64'" in conflict and "'zoo-plugin-example' and 'zoo-test-duplicate-model'" in conflict


def test_list_still_works_next_to_broken_plugins(zoo_cli, installed_dists):
    result = zoo_cli("list", pythonpath=installed_dists, env=ALL)
    assert result.returncode == 0
    assert "dupfree-32" in result.stdout
    assert "example-64" not in result.stdout  # ambiguous: claimed by two distributions
    assert "broken on purpose" in result.stderr
    info = zoo_cli("info", "example-64", pythonpath=installed_dists, env=ALL)
    assert info.returncode == 1
    assert info.stderr.strip().startswith("error: model 'example-64' is registered by both")


def test_selection_and_strict_mode(zoo_cli, installed_dists):
    only = plugins_json(zoo_cli, installed_dists, {"ZOO_LOAD_PLUGINS": "zoo-plugin-example"})
    assert [p["distribution"] for p in only["plugins"]] == ["zoo-core", "zoo-plugin-example"]
    none = plugins_json(zoo_cli, installed_dists, {"ZOO_LOAD_PLUGINS": ""})
    assert [p["distribution"] for p in none["plugins"]] == ["zoo-core"]
    strict = zoo_cli("list", pythonpath=installed_dists, env={**ALL, "ZOO_STRICT_PLUGINS": "1"})
    assert strict.returncode == 1 and strict.stderr.startswith("error: plugin ")
    assert "Traceback" not in strict.stderr


def test_no_plugins_says_how_to_install_one(zoo_cli):
    result = zoo_cli("list", env={"ZOO_LOAD_PLUGINS": ""})
    assert result.returncode == 0 and "zoo install zoo-plugin-simswap" in result.stdout


def test_plugin_commands_are_added(zoo_cli, installed_dists):
    result = zoo_cli("example-hello", "zoo", pythonpath=installed_dists, env={"ZOO_LOAD_PLUGINS": "example"})
    assert result.returncode == 0 and result.stdout.strip() == "hello zoo from zoo-plugin-example"


@pytest.mark.parametrize("verb", ["list", "plugins", "info example-64"])
def test_start_up_never_imports_torch(zoo_start_up, installed_dists, verb):
    _, modules = zoo_start_up(installed_dists, "example", *verb.split())
    assert "zoo_plugin_example" in modules  # the plugin was really loaded ...
    heavy = {m for m in modules if m.split(".")[0] in {"torch", "safetensors", "numpy"}}
    assert not heavy and "zoo_plugin_example.model" not in modules  # ... without its model code or torch


def test_importtime_of_zoo_list_shows_no_torch(zoo_cli, installed_dists):
    result = zoo_cli("list", pythonpath=installed_dists, env={"ZOO_LOAD_PLUGINS": "example"},
                     python_args=("-X", "importtime"))
    assert result.returncode == 0 and "example-64" in result.stdout
    imported = [line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert "click" in imported  # importtime really reported the imports
    assert not [name for name in imported if name.split(".")[0] == "torch"]


def package_of(root: Path) -> str:
    """The import package of the plugin at ``root`` (its one ``zoo_plugin_*`` folder)."""
    [package] = [path.name for path in root.glob("zoo_plugin_*") if path.is_dir() and not path.name.endswith(".egg-info")]
    return package


@pytest.fixture(scope="module", params=PLUGIN_ROOTS, ids=lambda root: root.name)
def plugin_root(request: pytest.FixtureRequest) -> Path:
    return request.param


def test_installed_plugin_declares_its_entry_point(plugin_root: Path, pip_install_plugin):
    """pip wrote one entry point in the ``zoo`` group, named as the plugin's folder (a valid name:
    packaging's ``[\\w.-]+``) and pointing at the plugin's package; the distribution needs zoo-core."""
    site = pip_install_plugin(plugin_root)
    [dist] = [d for d in metadata.distributions(path=[str(site)]) if d.metadata["Name"] == f"zoo-plugin-{plugin_root.name}"]
    [entry] = dist.entry_points.select(group="zoo")
    assert (entry.name, entry.value) == (plugin_root.name, package_of(plugin_root))
    assert re.fullmatch(r"[\w.-]+", entry.name)
    assert "zoo-core" in {re.split(r"[\s<>=!~;\[]", requirement)[0] for requirement in dist.requires or []}


@pytest.mark.parametrize("verb", ["list", "info"])
def test_installed_plugin_starts_up_without_torch_or_its_model_code(plugin_root: Path, pip_install_plugin, zoo_start_up,
                                                                    verb: str):
    """``zoo list`` shows every model the plugin registers and ``zoo info`` its first, loading the
    plugin through its entry point, without torch, numpy, OpenCV, dlib or diffusers, without the
    plugin's model code and without any other plugin."""
    package = package_of(plugin_root)
    registry.add_plugin(importlib.import_module(package), name=plugin_root.name, distribution=f"zoo-plugin-{plugin_root.name}")
    models = [name for name in registry.list_models() if registry.get_model_spec(name).plugin == f"zoo-plugin-{plugin_root.name}"]
    assert models
    args, shown = (["list"], models) if verb == "list" else (["info", models[0]], models[:1])
    result, modules = zoo_start_up(pip_install_plugin(plugin_root), plugin_root.name, *args)
    assert all(name in result.stdout for name in shown), result.stderr
    assert package in modules  # loaded through its entry point ...
    assert not {m for m in modules if m.split(".")[0] in HEAVY}  # ... without the heavy libraries,
    assert modules.isdisjoint({f"{package}.{name}" for name in MODEL_CODE})  # its model code
    assert not {m for m in modules if m.startswith("zoo_plugin_") and m.split(".")[0] != package}  # or another plugin
