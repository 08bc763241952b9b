"""3DMM errors (shape, expression, MFIM's pose, InfoSwap's expression and pose MSE) on real faces:
fake models whose answers are known (a swap that returns the source crop has the source's shape,
shape error 0; one that returns the target crop has the target's expression and pose, error 0),
each definition recomputed by hand from the regressor's parameters, and the warning for a model
trained against the same regressor."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from zoo_core import registry
from zoo_core.component_weights import save_component
from zoo_core.errors import ZooError, ZooWarning
from zoo_core.evaluate.metrics import EvaluationContext, SwapRecord

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
    names = ("shape", "expression", "pose-mfim", "expression-infoswap", "pose-infoswap")
    options = {name: {"weights": str(estimator_folder)} for name in names}
    evaluator = Evaluator(",".join(names), metric_options=options, progress=False)
    report = evaluator.evaluate([fake_model("source"), fake_model("target")], pairs, cache=cache)
    by_model = {m.label: m.results for m in report.models}
    source, target = by_model["fake-128.source"], by_model["fake-128.target"]

    assert source["shape"].values["pairs"] == len(pairs.pairs) and source["shape"].values["l2"]["mean"] == 0.0
    assert target["expression"].values["l2"]["mean"] == 0.0
    assert min(target["shape"].samples["l2"]) > 0  # the target's face is not the source's
    assert min(source["expression"].samples["l2"]) > 0
    assert "shape ↓" in source["shape"].summary and "expression ↓" in target["expression"].summary
    for name, key in (("pose-mfim", "l2"), ("expression-infoswap", "mse"), ("pose-infoswap", "mse")):
        assert target[name].values[key]["mean"] == 0.0 and target[name].values["pairs"] == len(pairs.pairs)
        assert min(source[name].samples[key]) > 0


def parameters(folder, crop):
    """DECA's parameters of a crop, computed here step by step: landmarks, DECA crop, encoder."""
    from zoo_core.component_weights import load_component
    from zoo_core.faces.detect import DlibDetector
    from zoo_core.nets.flame_encoder import deca_crop

    network = load_component("deca-flame-encoder", folder)
    face = DlibDetector().detect(crop)[0]
    image = deca_crop(crop, face.landmarks68, network.config.image_size, network.config.crop_scale)
    with torch.inference_mode():
        groups = network.encode(torch.from_numpy(image).permute(2, 0, 1)[None])
    return {key: value[0].double().numpy() for key, value in groups.items()}


def test_definitions_by_hand(three_faces, estimator_folder):
    from zoo_core.evaluate import flame_metrics

    source, target, swap = three_faces
    p_source, p_target, p_swap = (parameters(estimator_folder, crop) for crop in (source, target, swap))
    expected = {
        "shape": np.sqrt(np.sum((p_swap["shape"] - p_source["shape"]) ** 2)),
        "expression": np.sqrt(np.sum((p_swap["exp"] - p_target["exp"]) ** 2)),
        "pose-mfim": np.sqrt(np.sum((p_swap["pose"] - p_target["pose"]) ** 2)),  # 6-d: rotation and jaw
        "expression-infoswap": np.mean((p_swap["exp"] - p_target["exp"]) ** 2),
        "pose-infoswap": np.mean((p_swap["pose"][:3] - p_target["pose"][:3]) ** 2),  # global rotation
    }
    builders = {"shape": flame_metrics.build_shape_error, "expression": flame_metrics.build_expression_error,
                "pose-mfim": flame_metrics.build_pose_mfim,
                "expression-infoswap": flame_metrics.build_expression_infoswap,
                "pose-infoswap": flame_metrics.build_pose_infoswap}
    record = SwapRecord(0, "s", "t", "a", "b", source, target, swap, 0.0, (128, 128))
    for name, build in builders.items():
        metric = build(weights=str(estimator_folder))
        metric.update(record)
        (value,) = next(iter(metric.compute(EvaluationContext.__new__(EvaluationContext)).samples.values()))
        assert value == pytest.approx(expected[name], rel=1e-6) and value > 0, name


def test_warns_when_the_model_trained_against_the_regressor(fake_run, fake_model, estimator_folder):
    from zoo_core.evaluate.engine import Evaluator

    _, cache, pairs = fake_run
    supervised = fake_model("target")
    supervised.spec = supervised.spec.model_copy(update={"supervisors": ("deca-flame-encoder",)})
    options = {name: {"weights": str(estimator_folder)} for name in ("shape", "expression")}
    evaluator = Evaluator("shape,expression,identity-mfim", metric_options=options, progress=False)
    with pytest.warns(ZooWarning) as caught:
        evaluator.evaluate([supervised], pairs, cache=cache)
    (warning,) = [w for w in caught if issubclass(w.category, ZooWarning)]
    text = str(warning.message)
    assert text.startswith("shape, expression on fake-128.target: measured with deca-flame-encoder") and "identity" not in text
    with warnings.catch_warnings():
        warnings.simplefilter("error", ZooWarning)
        evaluator.evaluate([fake_model("target")], pairs, cache=cache)  # no declaration, no warning


def test_weights_are_required():
    from zoo_core.evaluate.engine import Evaluator

    with pytest.raises(ZooError, match="zoo convert deca-flame-encoder model=deca_model.tar"):
        Evaluator("expression", progress=False)
