"""The graphics-512 spec as registered, a start-up that never imports torch, and a model that
needs no weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


SHOW_MODULES = (
    "import json, sys\n"
    "from zoo_core.cli import main\n"
    "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
    "print('MODULES=' + json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
)


@pytest.mark.parametrize("verb", ["list", "info graphics-512"])
def test_start_up_never_imports_torch(installed_graphics: Path, verb: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    env.update({"PYTHONPATH": str(installed_graphics), "ZOO_LOAD_PLUGINS": "graphics"})
    result = subprocess.run([sys.executable, "-c", SHOW_MODULES, *verb.split()], env=env,
                            capture_output=True, text=True, timeout=120)
    assert "graphics-512" in result.stdout, result.stderr
    modules = set(json.loads(result.stderr.split("MODULES=")[-1]))
    assert "zoo_plugin_graphics" in modules  # loaded through its entry point ...
    assert not {m for m in modules if m.split(".")[0] in {"torch", "numpy", "cv2", "dlib"}}
    assert not {m for m in modules if m.startswith("zoo_plugin_graphics.") and m != "zoo_plugin_graphics.config"}
    if verb != "list":
        assert "weights: none needed" in result.stdout
