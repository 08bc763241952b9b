"""CLI behaviour: exit codes, one-line errors, --debug, JSON output, load, install."""

from __future__ import annotations

import json
import subprocess

import pytest
from click.testing import CliRunner

import zoo_core
from zoo_core import cli as cli_module
from zoo_core.cli import cli


def test_usage_error_exits_2():
    result = CliRunner().invoke(cli, ["list", "--no-such-option"])
    assert result.exit_code == 2 and "No such option" in result.output


def test_runtime_error_is_one_line_exit_1(zoo_cli):
    result = zoo_cli("info", "nosuch-64", env={"ZOO_LOAD_PLUGINS": ""})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: unknown model 'nosuch-64'")


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback(zoo_cli, how):
    args = ("--debug", "info", "nosuch-64") if how == "flag" else ("info", "nosuch-64")
    env = {"ZOO_LOAD_PLUGINS": "", **({"ZOO_DEBUG": "1"} if how == "env" else {})}
    result = zoo_cli(*args, env=env)
    assert result.returncode == 1 and "Traceback (most recent call last)" in result.stderr


def test_list_and_info_json(example_plugin):
    runner = CliRunner()
    listed = json.loads(runner.invoke(cli, ["list", "--json"]).output)
    assert listed == [{"name": "example-64", "family": "example", "resolution": 64, "capabilities": ["swap"],
                       "template": "ffhq", "identity_encoder": None, "plugin": "zoo-plugin-example", "pretrained": False}]
    assert runner.invoke(cli, ["list", "simswap-*"]).output.strip() == "No model matches."
    info = json.loads(runner.invoke(cli, ["info", "example-64", "--json"]).output)
    assert info["converters"][0]["roles"]["generator"]["example"] == "net_G.pth"
    plugins = json.loads(runner.invoke(cli, ["plugins", "--json"]).output)
    assert [p["distribution"] for p in plugins["plugins"]] == ["zoo-core", "zoo-plugin-example"]


def test_load_prints_parameters_and_sha256(example_plugin, tmp_path):
    model = zoo_core.create_model("example-64")
    folder = zoo_core.save_pretrained(model, tmp_path / "m")
    result = CliRunner().invoke(cli, ["load", f"local-dir:{folder}", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["parameters"] == sum(p.numel() for p in model.parameters())
    assert data["resolution"] == 64 and data["capabilities"] == ["swap"]
    from zoo_core.serialization import sha256_file

    assert data["files"]["model.safetensors"]["sha256"] == sha256_file(folder / "model.safetensors")
    text = CliRunner().invoke(cli, ["load", f"local-dir:{folder}"]).output
    assert f"parameters: {data['parameters']:,}" in text


def test_push_cli_uses_hfapi(example_plugin, tmp_path, monkeypatch):
    folder = zoo_core.save_pretrained(zoo_core.create_model("example-64"), tmp_path / "m")
    seen = {}

    class Api:
        def __init__(self, token=None):
            seen["token"] = token

        def create_repo(self, repo_id, **kwargs):
            seen["repo"] = repo_id

        def upload_folder(self, **kwargs):
            seen["upload"] = kwargs["folder_path"]
            return "https://hub.invalid/commit"

    monkeypatch.setattr("huggingface_hub.HfApi", Api)
    result = CliRunner().invoke(cli, ["push", str(folder), "me/repo", "--token", "t0k"])
    assert result.exit_code == 0, result.output
    assert seen == {"token": "t0k", "repo": "me/repo", "upload": str(folder)}


def test_install_and_uninstall_call_pip_in_this_environment(monkeypatch):
    calls = []

    def fake_run(command, check):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0 if len(calls) == 1 else 1)

    monkeypatch.setattr(cli_module.subprocess, "run", fake_run)
    runner = CliRunner()
    assert runner.invoke(cli, ["install", "-U", "zoo-plugin-mfim"]).exit_code == 0
    failed = runner.invoke(cli, ["uninstall", "zoo-plugin-mfim"])
    assert failed.exit_code == 1 and "pip uninstall failed with exit code 1" in failed.output
    assert calls[0][1:] == ["-m", "pip", "install", "--upgrade", "zoo-plugin-mfim"]
    assert calls[0][0] == cli_module.sys.executable
    assert calls[1][3:] == ["uninstall", "-y", "zoo-plugin-mfim"]


def test_python_dash_m_entry(zoo_cli):
    result = zoo_cli("--version")
    assert result.returncode == 0 and zoo_core.__version__ in result.stdout

