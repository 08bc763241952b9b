"""Hub I/O: save_pretrained, strict loading from folders and from the offline Hub cache,
sha256 pinning, sharding, clear errors, and push_to_hub against a small fake HfApi."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import zoo_core
from zoo_core import hub
from zoo_core.errors import ConfigError, WeightsError, ZooError

COMMIT = "a" * 40
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "zoo-plugin-example"
REPO_ID = "faceswap-zoo/example-64"


@pytest.fixture
def model(example_plugin):
    torch.manual_seed(0)
    return zoo_core.create_model("example-64")


@pytest.fixture
def pair():
    g = torch.Generator().manual_seed(1)
    return torch.rand(2, 3, 64, 64, generator=g), torch.rand(2, 3, 64, 64, generator=g)


def test_round_trip_local_folder(model, pair, tmp_path):
    folder = zoo_core.save_pretrained(model, tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["variant"] == "example-64" and config["family"] == "example" and config["format_version"] == 1
    assert config["zoo_core_version"] == zoo_core.__version__
    loaded = zoo_core.load(f"local-dir:{folder}")
    assert not loaded.training
    with torch.no_grad():
        assert torch.equal(model.eval().swap(*pair), loaded.swap(*pair))
    card = (folder / "README.md").read_text()
    assert "library_name: zoo" in card and "- face-swap" in card and "Intended use" in card


def test_sharded_save_round_trip_and_stale_shards(model, pair, tmp_path):
    folder = hub.save_pretrained(model, tmp_path / "m", max_shard_size=20_000)
    shards = sorted(p.name for p in folder.glob("model-*.safetensors"))
    assert len(shards) > 1 and (folder / "model.safetensors.index.json").is_file()
    loaded = zoo_core.load(f"local-dir:{folder}")
    with torch.no_grad():
        assert torch.equal(model.eval().swap(*pair), loaded.swap(*pair))
    hub.save_pretrained(model, folder)  # unsharded save into the same folder removes the shards
    assert sorted(p.name for p in folder.glob("model*")) == ["model.safetensors"]


def test_weight_errors_are_one_line_and_name_the_file(model, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = hub.save_pretrained(model, tmp_path / "m")
    weights = folder / "model.safetensors"
    state = load_file(str(weights))

    save_file({k: v for k, v in state.items() if not k.startswith("decoder.")}, str(weights))
    with pytest.raises(WeightsError, match=r"m: weights do not match the model: 2 missing keys \(decoder.1.weight, decoder.1.bias\)"):
        zoo_core.load(f"local-dir:{folder}")

    save_file({**state, "extra.weight": torch.zeros(1)}, str(weights))
    with pytest.raises(WeightsError, match=r"1 unexpected keys \(extra.weight\)"):
        zoo_core.load(f"local-dir:{folder}")

    save_file({**state, "decoder.1.bias": torch.zeros(4)}, str(weights))
    with pytest.raises(WeightsError, match=r"shape mismatch for 'decoder.1.bias': file has \(4,\), model expects \(3,\)"):
        zoo_core.load(f"local-dir:{folder}")

    save_file(state, str(weights))
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(WeightsError, match="model.safetensors: truncated or corrupt"):
        zoo_core.load(f"local-dir:{folder}")

    weights.unlink()
    with pytest.raises(WeightsError, match="model.safetensors: missing"):
        zoo_core.load(f"local-dir:{folder}")


def test_shard_index_cannot_point_outside_the_folder(model, tmp_path):
    folder = hub.save_pretrained(model, tmp_path / "m", max_shard_size=20_000)
    index = folder / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    outside = tmp_path / "outside.safetensors"
    first = next(iter(data["weight_map"]))
    for name in ["../outside.safetensors", str(outside)]:
        shard = data["weight_map"][first]
        (folder / shard).rename(outside) if not outside.exists() else None
        index.write_text(json.dumps({**data, "weight_map": {**data["weight_map"], first: name}}))
        with pytest.raises(WeightsError, match=f"shard '{name}' is outside the model folder"):
            zoo_core.load(f"local-dir:{folder}")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_are_refused(model, tmp_path, bad):
    from safetensors.torch import load_file, save_file

    folder = hub.save_pretrained(model, tmp_path / "m")
    weights = folder / "model.safetensors"
    state = load_file(str(weights))
    state["block.conv.weight"][0, 0, 0, 0] = bad
    save_file(state, str(weights))
    with pytest.raises(WeightsError, match=r"model.safetensors: non-finite values \(NaN or Inf\) in 'block.conv.weight'"):
        zoo_core.load(f"local-dir:{folder}")


def test_weights_of_another_dtype(model, tmp_path):
    from safetensors.torch import load_file, save_file

    from zoo_core.errors import ZooWarning

    folder = hub.save_pretrained(model, tmp_path / "m")
    weights = folder / "model.safetensors"
    state = load_file(str(weights))
    save_file({k: v.double() for k, v in state.items()}, str(weights))
    with pytest.warns(ZooWarning, match="cast to the model's precision \\(float64 -> float32\\)"):
        zoo_core.load(f"local-dir:{folder}")
    save_file({**state, "block.conv.bias": state["block.conv.bias"].round().to(torch.int32)}, str(weights))
    with pytest.raises(WeightsError, match="'block.conv.bias' is stored as torch.int32, the model expects torch.float32"):
        zoo_core.load(f"local-dir:{folder}")


def test_invalid_config_value_is_one_line_naming_file_and_key(model, tmp_path):
    folder = hub.save_pretrained(model, tmp_path / "m")
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "config": {**config["config"], "channels": "many"}}))
    with pytest.raises(ConfigError) as caught:
        zoo_core.load(f"local-dir:{folder}")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{config_path}: invalid config for 'example-64': channels:")
    assert "(got 'many')" in message


def test_config_errors(model, tmp_path):
    folder = hub.save_pretrained(model, tmp_path / "m")
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())

    config_path.write_text(json.dumps({**config, "format_version": 99, "zoo_core_version": "9.0"}))
    with pytest.raises(ConfigError, match="written by zoo-core 9.0 in format 99.*pip install -U zoo-core"):
        zoo_core.load(f"local-dir:{folder}")

    config_path.write_text(json.dumps({**config, "config": {**config["config"], "depth": 3}}))
    with pytest.raises(ConfigError, match=r"config.json: unknown config keys \['depth'\]"):
        zoo_core.load(f"local-dir:{folder}")

    config_path.write_text("{not json")
    with pytest.raises(ConfigError, match="config.json: not valid JSON"):
        zoo_core.load(f"local-dir:{folder}")

    config_path.unlink()
    with pytest.raises(ConfigError, match="config.json: missing"):
        zoo_core.load(f"local-dir:{folder}")


def test_names_with_slash_or_colon_never_resolve_to_the_registry(example_plugin, tmp_path):
    with pytest.raises(ZooError, match="prefix it with hf-hub: or local-dir:"):
        zoo_core.load("faceswap-zoo/example-64")
    with pytest.raises(ZooError, match="prefix it with local-dir:"):
        zoo_core.load(str(tmp_path))
    with pytest.raises(ZooError, match="expected 'hf-hub:ORG/REPO"):
        zoo_core.load("hf-hub:example-64")
    with pytest.raises(ZooError, match="no published weights.*zoo convert example-64"):
        zoo_core.load("example-64")
    assert hub.parse_source("hf-hub:org/repo@v1.0") == hub.Source("hf-hub", "org/repo", "v1.0")


# --- the offline Hub cache, through huggingface_hub's real code, in a subprocess ----------

LOAD_SCRIPT = textwrap.dedent(
    """
    import json, sys, torch
    import zoo_core
    from zoo_core import hub, registry
    from zoo_core.hookspecs import hookimpl
    from zoo_core.specs import ModelSpec, WeightFile, WeightsSpec

    args = json.loads(sys.argv[1])

    class Published:
        @hookimpl
        def register_models(self, register):
            files = tuple(WeightFile(filename=n, sha256=s) for n, s in args["files"].items())
            register(ModelSpec(
                name="example-64", family="example", resolution=64, template="ffhq",
                builder="zoo_plugin_example.model:build",
                default_config={"channels": 16, "identity_dim": 32, "resolution": 64},
                weights=WeightsSpec(repo_id=args["repo"], revision=args["commit"], files=files),
            ))

    registry.add_plugin(Published(), name="published")
    source, target, expected = torch.load(args["tensors"])
    try:
        model, folder = hub.load_with_folder(args["name"], args.get("revision"))
        print("LABEL", hub.weights_label(args["name"], folder))
    except zoo_core.ZooError as error:
        print("ZOOERROR", error)
        sys.exit(3)
    with torch.no_grad():
        print("MAXDIFF", (model.swap(source, target) - expected).abs().max().item())
    """
)


@pytest.fixture
def published(model, pair, tmp_path, hf_cache):
    """A saved model laid out in an HF cache under HF_HOME, and the reference outputs."""
    folder = hub.save_pretrained(model, tmp_path / "export")
    home = tmp_path / "hf-home"
    snapshot = hf_cache(home / "hub", REPO_ID, folder, COMMIT)
    with torch.no_grad():
        expected = model.eval().swap(*pair)
    tensors = tmp_path / "tensors.pt"
    torch.save((*pair, expected), tensors)
    from zoo_core.serialization import sha256_file

    files = {p.name: sha256_file(p) for p in folder.iterdir() if p.name != "README.md"}
    return {"home": home, "snapshot": snapshot, "tensors": tensors, "files": files}


def load_in_subprocess(published, name, files=None, offline="1", revision=None):
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "examples" / "zoo-plugin-example"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOO_", "HF_"))}
    env.update({"HF_HOME": str(published["home"]), "HF_HUB_OFFLINE": offline, "ZOO_LOAD_PLUGINS": "",
                "PYTHONPATH": str(example)})
    args = {"repo": REPO_ID, "commit": COMMIT, "files": files or published["files"], "name": name,
            "tensors": str(published["tensors"]), "revision": revision}
    return subprocess.run([sys.executable, "-c", LOAD_SCRIPT, json.dumps(args)], env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", ["example-64", f"hf-hub:{REPO_ID}@{COMMIT}", f"hf-hub:{REPO_ID}"])
def test_offline_cache_round_trip(published, name):
    result = load_in_subprocess(published, name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MAXDIFF 0.0" in result.stdout


def test_offline_not_cached_says_how_to_get_it(published):
    result = load_in_subprocess(published, "hf-hub:faceswap-zoo/not-cached")
    assert result.returncode == 3
    assert "faceswap-zoo/not-cached@main is not in the Hugging Face cache and downloads are off" in result.stdout
    assert "hf download faceswap-zoo/not-cached" in result.stdout


def test_sha256_mismatch_is_refused(published):
    wrong = {**published["files"], "model.safetensors": "0" * 64}
    result = load_in_subprocess(published, "example-64", files=wrong)
    assert result.returncode == 3
    assert "model.safetensors: sha256 mismatch (expected 0000" in result.stdout


@pytest.mark.parametrize("revision", ["main", "v1.0", COMMIT])
def test_sha256_pin_holds_however_the_pinned_commit_is_named(published, revision):
    """--revision main (or a tag) resolving to the pinned commit is still verified, and the
    provenance label records the resolved commit, not the name typed."""
    refs = published["snapshot"].parent.parent / "refs"
    (refs / "v1.0").write_text(COMMIT)
    wrong = {**published["files"], "model.safetensors": "0" * 64}
    result = load_in_subprocess(published, "example-64", files=wrong, revision=revision)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "model.safetensors: sha256 mismatch (expected 0000" in result.stdout
    result = load_in_subprocess(published, "example-64", revision=revision)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"LABEL example-64@{COMMIT} sha256:" in result.stdout


def test_unreachable_hub_is_not_called_offline(tmp_path):
    """Downloads on, endpoint refusing connections: the error names the endpoint and the failure."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOO_", "HF_"))}
    env.update({"HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": f"http://127.0.0.1:{port}", "ZOO_LOAD_PLUGINS": ""})
    script = "import zoo_core\ntry:\n    zoo_core.load('hf-hub:org/repo')\nexcept zoo_core.ZooError as e:\n    print(e)"
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120).stdout
    assert f"cannot reach the Hugging Face Hub at http://127.0.0.1:{port}" in out
    assert "Connection refused" in out and "offline" not in out


def test_push_without_network_is_one_line(model, tmp_path):
    import socket

    folder = hub.save_pretrained(model, tmp_path / "m")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOO_", "HF_"))}
    env.update({"HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": f"http://127.0.0.1:{port}", "ZOO_LOAD_PLUGINS": "",
                "HF_TOKEN": "hf_test", "PYTHONPATH": str(EXAMPLE)})
    result = subprocess.run([sys.executable, "-m", "zoo_core", "push", str(folder), "me/example"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: pushing {folder} to me/example at http://127.0.0.1:{port} failed:")
    assert "Connection refused" in line


def test_pinned_file_missing_from_snapshot(published):
    (published["snapshot"] / "model.safetensors").unlink()
    result = load_in_subprocess(published, "example-64")
    assert result.returncode == 3 and "model.safetensors" in result.stdout


# --- push ------------------------------------------------------------------------------------


class FakeHfApi:
    """Records calls instead of sending them: upload itself cannot be tested offline."""

    def __init__(self):
        self.calls = []

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def create_branch(self, repo_id, **kwargs):
        self.calls.append(("create_branch", repo_id, kwargs))

    def upload_folder(self, **kwargs):
        files = sorted(p.name for p in __import__("pathlib").Path(kwargs["folder_path"]).iterdir())
        self.calls.append(("upload_folder", kwargs["repo_id"], {**kwargs, "files": files}))
        return type("CommitInfo", (), {"commit_url": f"https://hub.invalid/{kwargs['repo_id']}/commit/1"})()


def test_push_folder_and_model(model, tmp_path):
    folder = hub.save_pretrained(model, tmp_path / "m")
    (folder / "README.md").unlink()  # the card is rendered again for the repo README
    api = FakeHfApi()
    url = hub.push_to_hub(folder, "me/example", private=True, revision="v1", api=api)
    assert url == "https://hub.invalid/me/example/commit/1"
    (create, repo, create_kwargs), (branch, _, branch_kwargs), (upload, _, upload_kwargs) = api.calls
    assert (create, repo, create_kwargs["private"], create_kwargs["exist_ok"]) == ("create_repo", "me/example", True, True)
    assert branch == "create_branch" and branch_kwargs["branch"] == "v1"
    assert upload_kwargs["files"] == ["README.md", "config.json", "model.safetensors"]
    assert upload_kwargs["revision"] == "v1" and "example-64" in upload_kwargs["commit_message"]

    api = FakeHfApi()
    hub.push_to_hub(model, "me/example", api=api)
    assert [c[0] for c in api.calls] == ["create_repo", "upload_folder"]
    assert api.calls[1][2]["files"] == ["README.md", "config.json", "model.safetensors"]


def test_push_refuses_a_folder_that_is_not_a_model(tmp_path):
    with pytest.raises(ConfigError, match="config.json: missing"):
        hub.push_to_hub(tmp_path, "me/x", api=FakeHfApi())


def test_loading_keeps_parameters_trainable_and_restores_init(model, tmp_path):
    from safetensors.torch import load_file, save_file

    kaiming = torch.nn.init.kaiming_uniform_
    folder = hub.save_pretrained(model, tmp_path / "m")
    half = {k: v.half() if v.is_floating_point() else v for k, v in load_file(str(folder / "model.safetensors")).items()}
    save_file(half, str(folder / "model.safetensors"))
    loaded = zoo_core.load(f"local-dir:{folder}")
    assert torch.nn.init.kaiming_uniform_ is kaiming
    params = dict(loaded.named_parameters())
    assert params and all(isinstance(p, torch.nn.Parameter) and p.requires_grad for p in params.values())
    assert {p.dtype for p in params.values()} == {torch.float32}  # the model's dtype, not the file's
    assert torch.allclose(params["block.conv.weight"], model.block.conv.weight.half().float())
