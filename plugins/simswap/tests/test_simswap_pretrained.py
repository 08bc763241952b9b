"""``zoo load simswap-224`` end to end against a local server standing in for GitHub's release
files (through ZOO_MIRROR): the spec's real URLs and archive member, SimSwap's converter on
official-layout files (tiny widths), and the published sha256 pins."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
import torch
from simswap_official_layout import TINY, fill, official_arcface_layout, official_generator_layout
from zoo_testing.weights_server import serve

import zoo_core
from zoo_core import pretrained, registry
from zoo_core.errors import WeightsError
from zoo_core.hookspecs import hookimpl
from zoo_core.nets.identity import SimSwapArcFace

TINY_NAME = "simswap-224.tiny"


def release_files() -> tuple[bytes, bytes, dict, dict]:
    """checkpoints.zip (with the generator at the official member path) and arcface_checkpoint.tar
    (a whole pickled module, as the 2023 re-upload), from tiny official-layout weights."""
    generator = fill(official_generator_layout("224", n_blocks=TINY["n_blocks"], ngf=TINY["ngf"],
                                               max_channels=TINY["max_channels"]), seed=5)
    arcface = SimSwapArcFace(depth=TINY["identity_depth"], input_size=TINY["identity_input_size"])
    arcface.load_state_dict(fill(official_arcface_layout(TINY["identity_depth"], TINY["identity_input_size"]), seed=6))
    member, tar, archive = io.BytesIO(), io.BytesIO(), io.BytesIO()
    torch.save(generator, member)
    torch.save(arcface.eval(), tar)
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("checkpoints/people/latest_net_G.pth", member.getvalue())
        bundle.writestr("checkpoints/people/iter.txt", "1")
    return archive.getvalue(), tar.getvalue(), generator, arcface.state_dict()


def served_path(url: str) -> str:
    return "/" + url.split("://", 1)[1]


@pytest.fixture
def github(simswap_plugin, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ZOO_OFFLINE", raising=False)
    with serve() as server:
        monkeypatch.setenv("ZOO_MIRROR", server.mirror)
        yield server


def test_simswap_224_sources_are_verified_against_the_published_pins(github, tmp_path):
    generator, identity = registry.get_model_spec("simswap-224").sources
    archive, tar, _, _ = release_files()  # not the official bytes: the pins must refuse them
    github.files[served_path(generator.url)] = archive
    github.files[served_path(identity.url)] = tar
    with pytest.raises(WeightsError) as error:
        zoo_core.create_model("simswap-224", pretrained=True)
    assert generator.url in str(error.value) and generator.sha256 in str(error.value)
    assert github.gets("/github.com/neuralchen/SimSwap/releases/download/1.0/checkpoints.zip") == 1
    assert not list((tmp_path / "cache").rglob("model.safetensors"))


def test_the_release_layout_converts_through_the_download_path(github, tmp_path):
    archive, tar, generator_state, arcface_state = release_files()
    spec = registry.get_model_spec("simswap-224")
    zip_source, tar_source = spec.sources
    github.files[served_path(zip_source.url)] = archive
    github.files[served_path(tar_source.url)] = tar
    member_sha = hashlib.sha256(zipfile.ZipFile(io.BytesIO(archive)).read(zip_source.member)).hexdigest()
    sources = (
        zip_source.model_copy(update={"sha256": hashlib.sha256(archive).hexdigest(), "member_sha256": member_sha}),
        tar_source.model_copy(update={"sha256": hashlib.sha256(tar).hexdigest()}),
    )
    tiny = spec.model_copy(update={"name": TINY_NAME, "default_config": {**spec.default_config, **TINY},
                                   "sources": sources})
    (converter,) = registry.get_converters("simswap-224")

    class Tiny:
        @hookimpl
        def register_models(self, register):
            register(tiny)

        @hookimpl
        def register_converters(self, register):
            register(converter.model_copy(update={"name": TINY_NAME, "target": TINY_NAME}))

    registry.add_plugin(Tiny(), name="tiny", distribution="zoo-test-tiny")
    try:
        model = zoo_core.create_model(TINY_NAME, pretrained=True)
    finally:
        registry.remove_plugin("tiny")
    state = model.state_dict()
    from zoo_plugin_simswap.config import SimSwapConfig
    from zoo_plugin_simswap.convert import generator_key_map

    for official, ours in generator_key_map(SimSwapConfig(**{**spec.default_config, **TINY})).items():
        assert torch.equal(state[ours], generator_state[official]), official
    for key, tensor in arcface_state.items():
        assert torch.equal(state[f"identity_encoder.backbone.{key}"], tensor), key
    (entry,) = pretrained.entries(TINY_NAME)
    assert {s["url"] for s in entry.lock["sources"]} == {zip_source.url, tar_source.url}
    assert [s["member"] for s in entry.lock["sources"] if s["role"] == "generator"] == [zip_source.member]
