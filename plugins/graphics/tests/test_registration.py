"""The graphics-512 spec as registered, a start-up that imports only the plugin's config module,
and a model that needs no weights (the checks every plugin shares, entry point and a start-up
without torch: tests/test_installed_plugins.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from zoo_core import registry
from zoo_core.errors import ZooError
from zoo_core.specs import ModelSpec, WeightsSpec


def test_variant_and_its_spec(graphics_plugin):
    assert registry.list_models("graphics-*") == ["graphics-512"]
    spec = registry.get_model_spec("graphics-512")
    assert (spec.family, spec.resolution, spec.template) == ("graphics", 512, "ffhq")
    assert spec.capabilities == frozenset({"swap"}) and spec.plugin == "zoo-plugin-graphics"
    assert not spec.needs_weights and spec.weights is None and registry.get_converters("graphics-512") == []
    assert spec.license == "apache-2.0" and spec.paper is not None and spec.paper.arxiv == "1901.08971"
    model = registry.create_model("graphics-512")
    assert sum(p.numel() for p in model.parameters()) == 0


def test_config_is_checked(graphics_plugin):
    with pytest.raises(ZooError, match="unknown config keys"):
        registry.create_model("graphics-512", blending="poisson")
    with pytest.raises(ZooError, match="blend"):
        registry.create_model("graphics-512", blend="laplacian")


def test_a_spec_without_weights_names_no_weights(spec):
    weights = WeightsSpec(repo_id="org/graphics-512", revision="0" * 40)
    with pytest.raises(ValidationError, match="needs no weights"):
        ModelSpec(**{**spec.model_dump(exclude={"plugin"}), "weights": weights})


@pytest.mark.parametrize("verb", ["list", "info graphics-512"])
def test_start_up_imports_only_the_config_module(installed_graphics: Path, zoo_start_up, verb: str):
    result, modules = zoo_start_up(installed_graphics, "graphics", *verb.split())
    assert "graphics-512" in result.stdout, result.stderr
    assert not {m for m in modules if m.startswith("zoo_plugin_graphics.") and m != "zoo_plugin_graphics.config"}
    if verb != "list":
        assert "weights: none needed" in result.stdout
