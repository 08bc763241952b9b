from __future__ import annotations

import pytest
from pydantic import ValidationError

from zoo_core.specs import ConverterSpec, ModelSpec, RoleSpec, WeightFile, WeightsSpec

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def spec(**fields):
    base = {"name": "simswap-224", "family": "simswap", "resolution": 224, "builder": "pkg.mod:build", "template": "simswap-224"}
    return ModelSpec(**{**base, **fields})


@pytest.mark.parametrize(
    ("name", "family", "resolution", "tag"),
    [("simswap-224", "simswap", 224, None), ("cvae-gan-224", "cvae-gan", 224, None),
     ("ilvr-ffhq-256", "ilvr-ffhq", 256, None), ("infoswap-1024.ema", "infoswap", 1024, "ema")],
)
def test_valid_names(name, family, resolution, tag):
    s = spec(name=name, family=family, resolution=resolution)
    assert s.tag == tag


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"name": "SimSwap-224"}, "is not"), ({"name": "simswap"}, "is not"), ({"resolution": 512}, "resolution"),
     ({"family": "infoswap"}, "family"), ({"builder": "pkg.mod.build"}, "module:attribute"),
     ({"capabilities": frozenset({"teleport"})}, "unknown capabilities")],
)
def test_invalid_specs(fields, message):
    with pytest.raises(ValidationError, match=message):
        spec(**fields)


def test_weights_need_full_commit_and_sha256():
    with pytest.raises(ValidationError, match="40-hex"):
        WeightsSpec(repo_id="org/repo", revision="main")
    with pytest.raises(ValidationError, match="64 lowercase hex"):
        WeightFile(filename="model.safetensors", sha256="abc")
    w = WeightsSpec(repo_id="org/repo", revision=COMMIT, files=(WeightFile(filename="config.json"),))
    assert spec(weights=w).pretrained and not spec().pretrained


def test_a_model_spec_takes_no_converter():
    # converters are registered once, through register_converters
    conv = ConverterSpec(name="x", target="simswap-224", function="a.b:c", roles={"generator": RoleSpec(description="G")})
    with pytest.raises(ValidationError, match="converter"):
        spec(converter=conv)


def test_specs_are_frozen():
    s = spec()
    with pytest.raises(ValidationError):
        s.resolution = 512


def test_every_capability_has_its_protocol():
    from zoo_core.protocols import CAPABILITY_PROTOCOLS
    from zoo_core.specs import CAPABILITIES

    assert sorted(CAPABILITY_PROTOCOLS) == sorted(CAPABILITIES)


@pytest.mark.parametrize(
    ("fields", "message"),
    [({}, "exactly one of url and instructions"),
     ({"url": "https://a.org/f", "instructions": "ask"}, "exactly one of url and instructions"),
     ({"url": "ftp://a.org/f"}, "must start with"),
     ({"url": "hf-hub:org/repo"}, "hf-hub:ORG/REPO/PATH"),
     ({"url": "https://a.org/f", "revision": "main"}, "hf-hub: sources only"),
     ({"url": "https://a.org/f.zip", "member_sha256": "0" * 64}, "needs member"),
     ({"url": "https://a.org/f", "sha256": "ABC"}, "64 lowercase hex")],
)
def test_invalid_sources(fields, message):
    from zoo_core.specs import SourceFile

    with pytest.raises(ValidationError, match=message):
        SourceFile(role="generator", **fields)


def test_pretrained_means_every_source_can_be_fetched():
    from zoo_core.specs import SourceFile

    url = SourceFile(role="generator", url="https://a.org/g.pth")
    manual = SourceFile(role="identity", instructions="e-mail the authors")
    assert spec(sources=(url,)).pretrained
    assert not spec(sources=(url, manual)).pretrained and not spec().pretrained
    with pytest.raises(ValidationError, match="role twice"):
        spec(sources=(url, url))
    assert "recorded at first download" in url.describe() and "manual: e-mail" in manual.describe()
