"""CLI behaviour: exit codes, one-line errors, --debug, JSON output, load, install."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

import zoo_core
from zoo_core.cli import cli
from zoo_core.cli import models as cli_module
from zoo_core.errors import ZooError


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



def swap_args(tmp_path):
    return ["swap", "--model", "example-64", "--source", str(tmp_path / "s.jpg"), "--target", str(tmp_path / "t.jpg"),
            "-o", str(tmp_path / "o.png")]


def deid_args(tmp_path):
    return ["deid", "--model", "example-64", "--target", str(tmp_path / "t.jpg"), "-o", str(tmp_path / "o.png")]


def train_args(tmp_path):
    return ["train", "--model", "example-64", "--data", str(tmp_path), "--output", str(tmp_path / "run")]


def mix_args(tmp_path):
    return ["mix", "--model", "example-64", "--global", str(tmp_path / "g.jpg"), "--local", str(tmp_path / "l.jpg"),
            "--target", str(tmp_path / "t.jpg"), "-o", str(tmp_path / "o.png")]


def prepare_args(tmp_path):
    (tmp_path / "src").mkdir(exist_ok=True)
    return ["prepare-data", str(tmp_path / "src"), str(tmp_path / "dst")]


@pytest.mark.parametrize(("verb", "option", "value"), [
    *[(train_args, option, "0") for option in ("--max-steps", "--batch-size", "--grad-accum", "--checkpoint-every",
                                                "--keep-checkpoints", "--sample-every", "--log-every",
                                                "--num-processes", "--grad-clip")],
    (train_args, "--num-workers", "-1"), (train_args, "--resolution", "4"), (train_args, "--seed", "-1"),
    (swap_args, "--batch-size", "0"), (swap_args, "--smooth", "5"), (swap_args, "--smooth", "0"),
    (deid_args, "--smooth", "1.5"), (deid_args, "--smooth", "-0.5"),
    (prepare_args, "--size", "0"), (prepare_args, "--size", "-5"), (prepare_args, "--workers", "0"),
    (lambda tmp_path: ["list"], "--capability", "nope"),
    (swap_args, "--face-index", "-1"), (deid_args, "--face-index", "-1"), (mix_args, "--face-index", "-1"),
    (swap_args, "--seed", "-1"), (deid_args, "--seed", "-1"), (mix_args, "--seed", "-1"),
])
def test_out_of_range_options_are_usage_errors(example_plugin, tmp_path, verb, option, value):
    result = CliRunner().invoke(cli, [*verb(tmp_path), option, value])
    assert result.exit_code == 2 and f"Invalid value for '{option}'" in result.output, result.output
    assert not (tmp_path / "dst").exists() and not (tmp_path / "run").exists()


def load_args(tmp_path):
    return ["load", "example-64"]


@pytest.mark.parametrize("verb", [swap_args, deid_args, mix_args, load_args])
@pytest.mark.parametrize("device", ["gpu", "cuda:x", "cuda:", "CPU"])
def test_malformed_device_is_a_usage_error(example_plugin, tmp_path, verb, device):
    result = CliRunner().invoke(cli, [*verb(tmp_path), "--device", device])
    assert result.exit_code == 2 and "Invalid value for '--device'" in result.output, result.output


@pytest.fixture
def cuda(monkeypatch):
    """Pretend about torch's CUDA: ``cuda(built=..., visible=...)``."""
    import torch

    def pretend(built: bool, visible: int = 0) -> None:
        monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: built)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: visible > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: visible)

    return pretend


@pytest.mark.parametrize("verb", [swap_args, deid_args, load_args])
@pytest.mark.parametrize(("built", "visible", "device", "message"), [
    (False, 0, "cuda", "--device cuda: CUDA is not available in this torch build"),
    (True, 0, "cuda:0", "--device cuda:0: no CUDA device is visible"),
    (True, 2, "cuda:2", "--device cuda:2: only 2 CUDA device(s) are visible (cuda:0 to cuda:1)"),
])
def test_unavailable_device_is_one_line(example_plugin, tmp_path, cuda, verb, built, visible, device, message):
    cuda(built, visible)
    result = CliRunner().invoke(cli, [*verb(tmp_path), "--device", device])
    assert result.exit_code == 1 and result.stderr.startswith(f"error: {message}") and result.stderr.count("\n") == 1


def test_visible_device_is_accepted(cuda):
    from zoo_core.devices import check_device

    cuda(True, 2)
    assert check_device("cuda:1") == "cuda:1" and check_device("cpu") == "cpu"
    with pytest.raises(ZooError, match="--device gpu: expected cpu, cuda, cuda:N"):
        check_device("gpu")


def test_capability_choice_lists_the_known_ones(example_plugin):
    result = CliRunner().invoke(cli, ["list", "--capability", "swap"])
    assert result.exit_code == 0 and "example-64" in result.output
    assert "'deidentify'" in CliRunner().invoke(cli, ["list", "--capability", "nope"]).output


@pytest.mark.parametrize("python_args", [(), ("-u",)], ids=["buffered", "unbuffered"])
def test_closed_stdout_pipe_ends_quietly(python_args):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line, as after `| head -1`
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")} | {"ZOO_LOAD_PLUGINS": ""}
    with subprocess.Popen([sys.executable, *python_args, "-m", "zoo_core", "info", "ffhq"], stdout=write_end,
                          stderr=subprocess.PIPE, env=env, text=True) as process:
        os.close(write_end)
        _, stderr = process.communicate(timeout=120)
    assert stderr == "" and process.returncode == 1


def test_plugin_filter_that_matches_nothing_says_so(zoo_cli, installed_dists):
    listed = zoo_cli("list", pythonpath=installed_dists, env={"ZOO_LOAD_PLUGINS": "garbage"})
    assert listed.returncode == 0
    assert "ZOO_LOAD_PLUGINS names 'garbage', which matches none of the installed plugins:" in listed.stdout
    assert "example (zoo-plugin-example)" in listed.stdout and "No model plugin is installed" not in listed.stdout
    info = zoo_cli("info", "example-64", pythonpath=installed_dists, env={"ZOO_LOAD_PLUGINS": "garbage"})
    assert info.returncode == 1 and "ZOO_LOAD_PLUGINS names 'garbage'" in info.stderr
    partly = zoo_cli("list", pythonpath=installed_dists, env={"ZOO_LOAD_PLUGINS": "example,garbage"})
    assert partly.returncode == 0 and "example-64" in partly.stdout
    assert "warning: ZOO_LOAD_PLUGINS names 'garbage', which matches none" in partly.stderr


def test_binary_train_config_is_one_line(example_plugin, tmp_path):
    (tmp_path / "train.yaml").write_bytes(b"\xff\xfe\x00binary")
    result = CliRunner().invoke(cli, [*train_args(tmp_path), "--config", str(tmp_path / "train.yaml")])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {tmp_path / 'train.yaml'}: cannot read the YAML config")


def test_a_missing_optional_package_names_its_extra(zoo_cli, tmp_path):
    """Without PyAV (zoo-core installed without [faces]), a verb that needs it says which extra to install."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text("import sys\nsys.modules['av'] = None\n")
    result = zoo_cli("inspect", __file__, env={"ZOO_LOAD_PLUGINS": ""}, pythonpath=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "error: this command needs 'av', which is not installed: pip install 'zoo-core[faces]'\n"
