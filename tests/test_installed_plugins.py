"""Entry-point loading with real installed distributions (pip --target), in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ALL = {"ZOO_LOAD_PLUGINS": "example,broken,duplicate,misspelt,zoo-test-same-entry-point"}


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


SHOW_MODULES = (
    "import json, sys\n"
    "from zoo_core.cli import main\n"
    "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
    "print('MODULES=' + json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
)


@pytest.mark.parametrize("verb", ["list", "plugins", "info example-64"])
def test_start_up_never_imports_torch(installed_dists, verb):
    env = {**os.environ, "PYTHONPATH": str(installed_dists), "ZOO_LOAD_PLUGINS": "example"}
    result = subprocess.run([sys.executable, "-c", SHOW_MODULES, *verb.split()], env=env,
                            capture_output=True, text=True, timeout=120)
    modules = set(json.loads(result.stderr.split("MODULES=")[-1]))
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
