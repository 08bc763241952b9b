"""Pretrained weights from official sources: download -> verify -> convert -> cache -> load, against
a real HTTP server on 127.0.0.1 reached through ZOO_MIRROR (never the network)."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from zoo_testing.weights_server import serve

import zoo_core
from zoo_core import downloads, pretrained, registry
from zoo_core.cli import cli
from zoo_core.errors import OfflineError, WeightsError
from zoo_core.factory import load_model
from zoo_core.hookspecs import hookimpl
from zoo_core.specs import ConverterSpec, ModelSpec, RoleSpec, SourceFile


EXAMPLE_PLUGIN = Path(__file__).resolve().parent.parent / "examples" / "zoo-plugin-example"
NAME = "example-64.official"
HOST = "weights.example.org"
ZIP_URL = f"https://{HOST}/release/files.zip"
ID_URL = f"https://{HOST}/release/id.pth"
MEMBER = "ckpt/net_G.pth"
RENAMES = {"encoder.": "enc.", "block.": "res.", "decoder.": "dec."}  # ours -> the reference code's


def official_files(model: torch.nn.Module) -> tuple[bytes, bytes]:
    """The model's weights in the reference code's layout: a zip holding the generator, and the
    identity encoder's state dict (the inverse of the example converter's renames)."""
    generator, identity = {}, {}
    for key, value in model.state_dict().items():
        if key.startswith("identity_encoder."):
            identity[key[len("identity_encoder."):]] = value
            continue
        prefix = next((p for p in RENAMES if key.startswith(p)), None)
        generator[RENAMES[prefix] + key[len(prefix):] if prefix else key] = value
    member, id_file, archive = io.BytesIO(), io.BytesIO(), io.BytesIO()
    torch.save(generator, member)
    torch.save(identity, id_file)
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("ckpt/README.txt", "release notes")
        bundle.writestr(MEMBER, member.getvalue())
    return archive.getvalue(), id_file.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def specs(zip_sha: str | None, member: str = MEMBER, identity: SourceFile | None = None) -> tuple[ModelSpec, ConverterSpec]:
    from zoo_plugin_example import EXAMPLE_CONFIG

    sources = (
        SourceFile(role="generator", url=ZIP_URL, sha256=zip_sha, member=member, licence="cc-by-nc-4.0"),
        identity or SourceFile(role="identity", url=ID_URL, licence="cc-by-nc-4.0"),  # no published hash
    )
    model = ModelSpec(name=NAME, family="example", resolution=64, builder="zoo_plugin_example.model:build",
                      template="ffhq", default_config=EXAMPLE_CONFIG, sources=sources)
    converter = ConverterSpec(name=NAME, target=NAME, function="zoo_plugin_example.model:convert_reference_checkpoint",
                              roles={"generator": RoleSpec(description="G"), "identity": RoleSpec(description="ID")})
    return model, converter


class Official:
    def __init__(self, model: ModelSpec, converter: ConverterSpec):
        self.model, self.converter = model, converter

    @hookimpl
    def register_models(self, register):
        register(self.model)

    @hookimpl
    def register_converters(self, register):
        register(self.converter)


def register(*spec_pair: ModelSpec | ConverterSpec) -> None:
    registry.remove_plugin("official")
    registry.add_plugin(Official(*spec_pair), name="official", distribution="zoo-test-official")


@pytest.fixture
def release(example_plugin, tmp_path, monkeypatch):
    """The official files on a local server (reached through ZOO_MIRROR), the test variant
    registered with pinned sources, and an empty ZOO_CACHE."""
    torch.manual_seed(0)
    model = zoo_core.create_model("example-64")
    archive, identity = official_files(model)
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ZOO_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with serve() as server:
        server.files[f"/{HOST}/release/files.zip"] = archive
        server.files[f"/{HOST}/release/id.pth"] = identity
        monkeypatch.setenv("ZOO_MIRROR", server.mirror)
        register(*specs(sha(archive)))
        server.expected = model.state_dict()
        server.archive, server.identity = archive, identity
        yield server
    registry.remove_plugin("official")


def assert_same_weights(loaded: torch.nn.Module, expected: dict[str, torch.Tensor]) -> None:
    state = loaded.state_dict()
    assert state.keys() == expected.keys()
    assert all(torch.equal(state[key], expected[key]) for key in state)


def cache_is_empty(root: Path) -> bool:
    models = root / "models"
    return not models.exists() or not any(models.rglob("model.safetensors"))


def test_load_downloads_verifies_converts_and_caches(release, tmp_path, monkeypatch):
    model = zoo_core.create_model(NAME, pretrained=True)
    assert_same_weights(model, release.expected)  # the converter ran on exactly the served files
    assert release.gets(f"/{HOST}/release/files.zip") == 1 and release.gets(f"/{HOST}/release/id.pth") == 1
    (entry,) = pretrained.entries(NAME)
    lock = entry.lock
    by_role = {source["role"]: source for source in lock["sources"]}
    assert by_role["generator"]["sha256"] == sha(release.archive) and by_role["generator"]["pinned"]
    assert by_role["generator"]["member"] == MEMBER
    assert by_role["generator"]["fetched_from"] == f"{release.mirror}/{HOST}/release/files.zip"  # the mirror used
    assert by_role["identity"]["sha256"] == sha(release.identity) and not by_role["identity"]["pinned"]
    converted = entry.folder / "model.safetensors"
    assert lock["converted"]["model.safetensors"] == hashlib.sha256(converted.read_bytes()).hexdigest()
    # the unpinned file's hash is recorded at its first download
    recorded = json.loads((tmp_path / "cache" / "downloads" / "recorded.json").read_text())
    assert recorded[ID_URL]["sha256"] == sha(release.identity)

    # the second load reads the cache: no request reaches the server, even offline
    release.requests.clear()
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    loaded = load_model(NAME)
    assert release.requests == []
    assert_same_weights(loaded.model, release.expected)
    assert_same_weights(zoo_core.load(NAME), release.expected)
    for url, digest in ((ZIP_URL, sha(release.archive)), (ID_URL, sha(release.identity))):
        assert url in loaded.weights and digest in loaded.weights  # provenance names each source


def test_a_partial_download_resumes_where_it_stopped(release, tmp_path):
    source = registry.get_model_spec(NAME).sources[0]
    folder = downloads.download_dir(tmp_path / "cache" / "downloads", source)
    folder.mkdir(parents=True)
    half = len(release.archive) // 2
    (folder / "files.zip.part").write_bytes(release.archive[:half])  # left by a killed run
    assert_same_weights(zoo_core.create_model(NAME, pretrained=True), release.expected)
    assert (f"/{HOST}/release/files.zip", f"bytes={half}-") in release.requests
    assert not (folder / "files.zip.part").exists() and (folder / "files.zip").read_bytes() == release.archive


def test_sha256_mismatch_is_refused_then_accepted_explicitly(release, tmp_path):
    tampered = release.archive + b"\0"
    release.files[f"/{HOST}/release/files.zip"] = tampered
    with pytest.raises(WeightsError) as error:
        zoo_core.create_model(NAME, pretrained=True)
    message = str(error.value)
    assert ZIP_URL in message and sha(release.archive) in message and sha(tampered) in message
    assert "\n" not in message and f"--accept-sha256 {sha(tampered)}" in message
    assert cache_is_empty(tmp_path / "cache") and not list((tmp_path / "cache" / "downloads").rglob("files.zip*"))

    runner = CliRunner()
    result = runner.invoke(cli, ["load", NAME, "--accept-sha256", sha(tampered), "--json"])
    assert result.exit_code == 0, result.output
    label = json.loads(result.output)["weights"]
    assert f"sha256:{sha(tampered)} (accepted by the user)" in label
    (entry,) = pretrained.entries(NAME)
    assert [s["accepted"] for s in entry.lock["sources"] if s["role"] == "generator"] == [True]


def test_a_later_download_of_an_unpinned_file_must_match_its_first(release):
    zoo_core.create_model(NAME, pretrained=True)
    pretrained.remove(NAME)
    for path in (Path(pretrained.cache_root()) / "downloads").rglob("id.pth"):
        path.unlink()  # force a second download of the unpinned file
    release.files[f"/{HOST}/release/id.pth"] = release.identity + b"changed upstream"
    with pytest.raises(WeightsError, match=f"expected {sha(release.identity)}"):
        zoo_core.create_model(NAME, pretrained=True)


def test_a_connection_cut_short_leaves_nothing(release, tmp_path):
    release.cut_after[f"/{HOST}/release/files.zip"] = len(release.archive) // 3
    with pytest.raises(WeightsError) as error:
        zoo_core.create_model(NAME, pretrained=True)
    assert ZIP_URL.split("//")[1] in str(error.value) and "\n" not in str(error.value)
    assert cache_is_empty(tmp_path / "cache")
    assert not list((tmp_path / "cache" / "downloads").rglob("files.zip*"))


def test_server_error_and_server_down(release, monkeypatch):
    release.status[f"/{HOST}/release/files.zip"] = 500
    with pytest.raises(WeightsError, match="answered 500"):
        zoo_core.create_model(NAME, pretrained=True)
    monkeypatch.setenv("ZOO_MIRROR", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(WeightsError, match="download failed"):
        zoo_core.create_model(NAME, pretrained=True)


def test_mirror_maps_host_and_path(monkeypatch):
    monkeypatch.setenv("ZOO_MIRROR", "http://mirror.local:8080/zoo/")
    assert downloads.mirrored("https://github.com/o/r/releases/download/1.0/a.zip") == \
        "http://mirror.local:8080/zoo/github.com/o/r/releases/download/1.0/a.zip"
    assert downloads.mirrored("hf-hub:org/repo/file.bin") == "hf-hub:org/repo/file.bin"
    monkeypatch.delenv("ZOO_MIRROR")
    assert downloads.mirrored("https://a.org/b") == "https://a.org/b"


def test_missing_archive_member_is_named(release, tmp_path):
    register(*specs(sha(release.archive), member="ckpt/latest_net_G.pth"))
    with pytest.raises(WeightsError, match="no member 'ckpt/latest_net_G.pth'.*ckpt/net_G.pth"):
        zoo_core.create_model(NAME, pretrained=True)
    assert cache_is_empty(tmp_path / "cache")


def test_offline_without_the_cache_says_what_is_needed(release, monkeypatch):
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(OfflineError) as error:
        zoo_core.create_model(NAME, pretrained=True)
    message = str(error.value)
    assert ZIP_URL in message and ID_URL in message and f"zoo download {NAME}" in message and "\n" not in message
    assert release.requests == []


def test_a_modified_cached_file_is_caught(release):
    zoo_core.create_model(NAME, pretrained=True)
    (entry,) = pretrained.entries(NAME)
    weights = entry.folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    result = CliRunner().invoke(cli, ["cache", "verify"])
    assert result.exit_code == 1 and "modified" in result.output
    with pytest.raises(WeightsError, match="was modified.*zoo cache remove"):
        zoo_core.create_model(NAME, pretrained=True)
    removed = CliRunner().invoke(cli, ["cache", "remove", NAME])
    assert removed.exit_code == 0 and pretrained.entries(NAME) == []
    assert_same_weights(zoo_core.create_model(NAME, pretrained=True), release.expected)  # downloads reused


def test_manual_sources_print_instructions_and_take_files(release, tmp_path):
    manual = SourceFile(role="identity", instructions="e-mail the authors for id.pth", sha256=sha(release.identity))
    register(*specs(sha(release.archive), identity=manual))
    result = CliRunner().invoke(cli, ["load", NAME])
    assert result.exit_code == 1
    assert "e-mail the authors for id.pth" in result.output and f"zoo load {NAME}" in result.output
    assert "--from identity=FILE" in result.output and "--from generator" not in result.output  # it downloads

    wrong = tmp_path / "other.pth"
    wrong.write_bytes(release.identity + b"x")
    with pytest.raises(WeightsError, match="--from identity=.*sha256 mismatch"):
        pretrained.ensure(NAME, {"identity": wrong})
    given = tmp_path / "id.pth"
    given.write_bytes(release.identity)
    result = CliRunner().invoke(cli, ["load", NAME, "--from", f"identity={given}"])
    assert result.exit_code == 0, result.output
    assert f"file {given}" in result.output  # provenance says where the manual file came from
    assert release.gets(f"/{HOST}/release/id.pth") == 0
    # later loads (and every --model verb) find that conversion without the files
    given.unlink()
    assert_same_weights(zoo_core.create_model(NAME, pretrained=True), release.expected)


def test_cli_info_list_download_and_cache(release):
    runner = CliRunner()
    info = runner.invoke(cli, ["info", NAME])
    assert ZIP_URL in info.output and "sha256 recorded at first download" in info.output
    assert f"automatic: zoo load {NAME}" in info.output
    as_json = json.loads(runner.invoke(cli, ["info", NAME, "--json"]).output)
    assert [source["url"] for source in as_json["sources"]] == [ZIP_URL, ID_URL] and as_json["pretrained"]
    assert NAME in runner.invoke(cli, ["list", "--pretrained"]).output
    downloaded = runner.invoke(cli, ["download", NAME])
    assert downloaded.exit_code == 0 and "cached" in downloaded.output
    listed = json.loads(runner.invoke(cli, ["cache", "list", "--json"]).output)
    assert [row["name"] for row in listed] == [NAME]
    assert runner.invoke(cli, ["cache", "verify", NAME]).output.strip().endswith("ok")


def test_hub_sources_record_the_commit_they_resolved(example_plugin, tmp_path, monkeypatch, hf_cache):
    torch.manual_seed(1)
    model = zoo_core.create_model("example-64")
    archive, identity = official_files(model)
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "id.pth").write_bytes(identity)
    commit = "c0ffee" + "0" * 34
    hf_cache(tmp_path / "hf" / "hub", "org/weights", folder, commit)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))  # read at import: patch it
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the Hub cache answers; nothing else may be fetched
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    hub_identity = SourceFile(role="identity", url="hf-hub:org/weights/id.pth")
    given = tmp_path / "net_G.pth"  # --from gives the file the converter reads (the member)
    given.write_bytes(zipfile.ZipFile(io.BytesIO(archive)).read(MEMBER))
    register(*specs(sha(archive), identity=hub_identity))
    try:
        cached = pretrained.ensure(NAME, {"generator": given})  # the generator by hand, the identity from the Hub
    finally:
        registry.remove_plugin("official")
    (entry,) = [s for s in cached.lock["sources"] if s["role"] == "identity"]
    assert entry["revision"] == commit and entry["sha256"] == sha(identity)


SCRIPT = textwrap.dedent("""
    import json, resource, signal, sys
    if len(sys.argv) > 3:  # files may not grow past this size: writes fail as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[3]), int(sys.argv[3])))
    sys.path.insert(0, sys.argv[1])
    from zoo_core import pretrained, registry
    from zoo_core.hookspecs import hookimpl
    from zoo_core.specs import ConverterSpec, ModelSpec
    data = json.loads(open(sys.argv[2]).read())
    class Official:
        @hookimpl
        def register_models(self, register):
            register(ModelSpec.model_validate(data["model"]))
        @hookimpl
        def register_converters(self, register):
            register(ConverterSpec.model_validate(data["converter"]))
    import zoo_plugin_example
    registry.add_plugin(zoo_plugin_example, name="example")
    registry.add_plugin(Official(), name="official")
    from zoo_core.errors import ZooError
    try:
        print(pretrained.ensure(data["model"]["name"]).folder)
    except ZooError as error:
        print(f"{type(error).__name__}: {error}")
""")


def spec_file_of(tmp_path: Path, archive: bytes) -> Path:
    model, converter = specs(sha(archive))
    path = tmp_path / "specs.json"
    path.write_text(json.dumps({"model": model.model_dump(mode="json", exclude={"plugin"}),
                                "converter": converter.model_dump(mode="json", exclude={"plugin"})}))
    return path


def test_a_full_disk_leaves_nothing(release, tmp_path):
    env = {"ZOO_CACHE": str(tmp_path / "cache"), "ZOO_MIRROR": release.mirror, "ZOO_LOAD_PLUGINS": "",
           "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}  # no .pyc cut short by the limit
    limit = str(len(release.archive) // 2)
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(EXAMPLE_PLUGIN), str(spec_file_of(tmp_path, release.archive)),
                             limit], env=env, capture_output=True, text=True, timeout=300)
    line = result.stdout.strip()
    assert line.startswith("WeightsError: ") and "files.zip.part: cannot write" in line and "File too large" in line, \
        result.stdout + result.stderr
    assert cache_is_empty(tmp_path / "cache") and not list((tmp_path / "cache").rglob("files.zip*"))


def test_two_processes_download_once(release, tmp_path):
    spec_file = spec_file_of(tmp_path, release.archive)
    release.delay = 0.05  # slow enough for the two processes to overlap
    env = {"ZOO_CACHE": str(tmp_path / "cache"), "ZOO_MIRROR": release.mirror, "ZOO_LOAD_PLUGINS": "",
           "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-c", SCRIPT, str(EXAMPLE_PLUGIN), str(spec_file)]
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    assert outputs[0][0] == outputs[1][0]  # the same cache folder
    assert release.gets(f"/{HOST}/release/files.zip") == 1 and release.gets(f"/{HOST}/release/id.pth") == 1
