"""R-Shape (MFIM Table 5) on real aligned faces with a small random-weight 3DMM regressor: the
metric's plumbing (landmarks, DECA crops, shape distances, rows) does not depend on what the
regressor learned."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from zoo_core import registry
from zoo_core.component_weights import save_component
from zoo_core.evaluate.metrics import EvaluationContext, MixRecord
from zoo_core.evaluate.mix_shape import build_relative_shape
from zoo_core.evaluate.specs import DEFAULT_METRICS, METRIC_SPECS

FLAME_TINY = {"layers": (1, 1, 1, 1), "width": 8, "hidden": 16, "image_size": 64}


def record(a: np.ndarray, b: np.ndarray, target: np.ndarray, **crops: np.ndarray | None) -> MixRecord:
    empty = np.zeros(4)
    fields = {"global_crop": a, "local_crop": b, "target_crop": target, "mix_crop": a,
              "global_swap_crop": a, "local_swap_crop": b, **crops}
    return MixRecord("t.jpg", "g.jpg", "l.jpg", empty, empty, empty, empty, empty, **fields)


def test_r_shape_rows_on_real_faces(faces_dir, tmp_path):
    photos = sorted((faces_dir / "celebahq_1024").glob("*"))[:3]
    assert len(photos) == 3
    module = registry.create_component("deca-flame-encoder", **FLAME_TINY)
    folder = save_component(module, "deca-flame-encoder", tmp_path / "deca", config=module.config.model_dump(mode="json"))
    a, b, target = (np.asarray(Image.open(p).convert("RGB").resize((128, 128), Image.Resampling.LANCZOS)) for p in photos)
    metric = build_relative_shape(weights=str(folder))
    assert metric.name == "r-shape" and metric.capability == "mix" and not metric.higher_is_better
    metric.update(record(a, b, target))  # mix and global-only swap = the global source, local-only = local source
    metric.update(record(a, b, target, mix_crop=None))
    result = metric.compute(EvaluationContext.__new__(EvaluationContext))
    assert result.values["mix"]["r_shape_gb"] == 0.0 and result.values["global"]["r_shape_gb"] == 0.0
    assert result.values["local"]["r_shape_gb"] == 1.0 and result.values["mix"]["n"] == 1
    assert any("carries no crops" in note for note in result.notes)


def test_r_shape_is_registered_and_needs_weights():
    spec = next(s for s in METRIC_SPECS if s.name == "r-shape")
    assert spec.builder == "zoo_core.evaluate.mix_shape:build_relative_shape" and "r-shape" not in DEFAULT_METRICS
    with pytest.raises(Exception, match="r-shape.weights=DIR|shape.weights=DIR"):
        build_relative_shape()
