"""``zoo convert``: official files -> a loadable folder, through the safe readers."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

import zoo_core
from zoo_core.cli import cli
from zoo_core.convert import convert
from zoo_core.errors import WeightsError, ZooError


@pytest.fixture
def official_files(example_plugin, tmp_path):
    """Checkpoints with the reference code's key names, in two files."""
    torch.manual_seed(3)
    ours = zoo_core.create_model("example-64").state_dict()
    renames = {"encoder.": "enc.", "block.": "res.", "decoder.": "dec."}
    generator = {}
    for key, value in ours.items():
        for new, old in renames.items():
            if key.startswith(new):
                generator[old + key[len(new):]] = value
    g_path, id_path = tmp_path / "net_G.pth", tmp_path / "id.pth"
    torch.save(generator, g_path)
    torch.save({k[len("identity_encoder."):]: v for k, v in ours.items() if k.startswith("identity_encoder.")}, id_path)
    return {"generator": g_path, "identity": id_path, "expected": ours}


def test_convert_writes_a_loadable_folder_with_provenance(official_files, tmp_path):
    out = convert("example-64", {"generator": official_files["generator"], "identity": official_files["identity"]}, tmp_path / "out")
    loaded = zoo_core.load(f"local-dir:{out}")
    for key, value in official_files["expected"].items():
        assert torch.equal(loaded.state_dict()[key], value), key
    config = json.loads((out / "config.json").read_text())
    assert config["provenance"]["converter"] == "example-64"
    assert config["provenance"]["files"]["generator"]["name"] == "net_G.pth"
    assert len(config["provenance"]["files"]["identity"]["sha256"]) == 64


def test_convert_cli(official_files, tmp_path):
    out = tmp_path / "cli-out"
    result = CliRunner().invoke(cli, ["convert", "example-64", f"generator={official_files['generator']}",
                                      f"identity={official_files['identity']}", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert f"zoo load local-dir:{out}" in result.output


def test_roles_are_checked(official_files, tmp_path):
    with pytest.raises(ZooError, match=r"needs identity=FILE \(id.pth\)"):
        convert("example-64", {"generator": official_files["generator"]}, tmp_path / "o")
    with pytest.raises(ZooError, match=r"takes no role\(s\) \['discriminator'\]; it takes: generator=FILE, identity=FILE"):
        convert("example-64", {**{k: official_files[k] for k in ("generator", "identity")}, "discriminator": "x"}, tmp_path / "o")
    result = CliRunner().invoke(cli, ["convert", "example-64", "generator", "--output", str(tmp_path / "o")])
    assert result.exit_code == 2 and "expected ROLE=FILE" in result.output


def test_mismatched_official_weights_are_refused(official_files, tmp_path):
    state = torch.load(official_files["generator"])
    state["res.conv.weight"] = torch.zeros(1)
    torch.save(state, official_files["generator"])
    with pytest.raises(WeightsError, match=r"converted from generator=.*net_G.pth.*shape mismatch for 'block.conv.weight'"):
        convert("example-64", {k: official_files[k] for k in ("generator", "identity")}, tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_non_finite_official_weights_are_refused(official_files, tmp_path):
    """NaN in a weight the model takes is refused, naming the files and the key; nothing is written."""
    files = {k: official_files[k] for k in ("generator", "identity")}
    state = torch.load(official_files["generator"])
    state["res.conv.weight"][0, 0, 0, 0] = float("nan")
    torch.save(state, official_files["generator"])
    with pytest.raises(WeightsError, match=r"converted from generator=.*net_G.pth.*non-finite values \(NaN or Inf\) in 'block.conv.weight'"):
        convert("example-64", files, tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_models_without_converter(example_plugin, tmp_path):
    from zoo_core import registry
    from zoo_core.hookspecs import hookimpl
    from zoo_core.specs import ModelSpec

    class NoConverter:
        @hookimpl
        def register_models(self, register):
            register(ModelSpec(name="plain-64", family="plain", resolution=64, builder="zoo_plugin_example.model:build", template="ffhq"))

    registry.add_plugin(NoConverter(), name="noconv")
    with pytest.raises(ZooError, match="no converter is registered for 'plain-64'"):
        convert("plain-64", {}, tmp_path / "o")
