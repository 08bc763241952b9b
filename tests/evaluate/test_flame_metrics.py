"""Shape and expression errors on real faces with fake models whose answers are known: a swap
that returns the source crop has the source's shape (shape error 0), one that returns the
target crop has the target's expression (expression error 0) and the target's shape, which
differs from the source's."""

from __future__ import annotations

import pytest
import torch

from zoo_core import registry
from zoo_core.component_weights import save_component
from zoo_core.errors import ZooError

# A small regressor with random weights: the metric's plumbing (landmarks, DECA crops,
# parameter groups, distances) does not depend on what the weights learned.
TINY = {"layers": (1, 1, 1, 1), "width": 8, "hidden": 16, "image_size": 64}


@pytest.fixture(scope="module")
def estimator_folder(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("deca")
    module = registry.create_component("deca-flame-encoder", **TINY)
    return save_component(module, "deca-flame-encoder", folder, config={**module.config.model_dump(mode="json")})


def test_shape_and_expression_errors(fake_run, fake_model, estimator_folder):
    from zoo_core.evaluate.engine import Evaluator

    _, cache, pairs = fake_run
    options = {name: {"weights": str(estimator_folder)} for name in ("shape", "expression")}
    evaluator = Evaluator("shape,expression", metric_options=options, progress=False)
    report = evaluator.evaluate([fake_model("source"), fake_model("target")], pairs, cache=cache)
    by_model = {m.label: m.results for m in report.models}
    source, target = by_model["fake-128.source"], by_model["fake-128.target"]

    assert source["shape"].values["pairs"] == len(pairs.pairs) and source["shape"].values["l2"]["mean"] == 0.0
    assert target["expression"].values["l2"]["mean"] == 0.0
    assert min(target["shape"].samples["l2"]) > 0  # the target's face is not the source's
    assert min(source["expression"].samples["l2"]) > 0
    assert "shape ↓" in source["shape"].summary and "expression ↓" in target["expression"].summary


def test_weights_are_required():
    from zoo_core.evaluate.engine import Evaluator

    with pytest.raises(ZooError, match="zoo convert deca-flame-encoder model=deca_model.tar"):
        Evaluator("expression", progress=False)
