"""Face-shape and expression errors in FLAME parameter space (StyleFace Table 1, MFIM Tables 2
and 4): the L2 distance between the parameters a 3DMM regressor estimates from the swap and
from the source (shape) or the target (expression).

The papers regress them with RingNet (Sanyal et al., CVPR 2019), whose weights exist only
for TensorFlow; DECA's coarse encoder (the registered ``deca-flame-encoder`` component,
converted from ``deca_model.tar``) regresses the same FLAME shape (100) and expression (50)
parameters and is RingNet's successor, so it is used here. Numbers are therefore comparable
between models evaluated here, not digit for digit with the papers' tables.

Crops follow DECA's test-time rule (:func:`zoo_core.nets.flame_encoder.deca_crop`) from
dlib's 68 landmarks of each aligned crop. A swap on which no face is found is cropped with the
target's box rather than dropped (dropping would hide exactly the failed swaps from the
average); the report counts those pairs.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from zoo_core.errors import ZooError
from zoo_core.evaluate.metrics import (
    EvaluationContext,
    EvaluationRecord,
    MetricResult,
    SwapRecord,
    describe_values,
)

COMPONENT = "deca-flame-encoder"
_ESTIMATORS: dict[tuple[str, str], Any] = {}
_DETECTOR: list[Any] = []


def load_estimator(weights: str | None, device: str = "cpu") -> Any:
    """The FLAME-parameter regressor from a component folder or ``hf-hub:`` repository
    (cached per process)."""
    if not weights:
        raise ZooError(
            f"this metric needs the weights of the 3DMM regressor: convert DECA's deca_model.tar with "
            f"'zoo convert {COMPONENT} model=deca_model.tar --output DIR' and pass "
            "--metric-option shape.weights=DIR (and expression.weights=DIR)"
        )
    key = (str(weights), device)
    if key not in _ESTIMATORS:
        from zoo_core.component_weights import load_component

        _ESTIMATORS[key] = load_component(COMPONENT, weights, device=device)
    return _ESTIMATORS[key]


def _detector() -> Any:
    if not _DETECTOR:
        from zoo_core.faces.detect import create_detector

        _DETECTOR.append(create_detector("dlib-hog"))
    return _DETECTOR[0]


class FlameParameterDistance:
    """L2 distance between one FLAME parameter group of the swap and of a reference image."""

    higher_is_better = False
    needs = frozenset({"swap"})
    capability: str | None = None

    def __init__(self, name: str, group: str, reference: str, weights: str | None, device: str = "cpu"):
        self.name = name
        self.group = group
        self.reference = reference
        self.device = device
        self.estimator = load_estimator(weights, device)
        self.distances: list[float] = []
        self.skipped: dict[str, int] = {}
        self.on_target_box = 0
        self._cache: dict[str, tuple[np.ndarray | None, dict[str, np.ndarray] | None]] = {}

    def _landmarks(self, crop: np.ndarray) -> np.ndarray | None:
        faces = _detector().detect(crop)
        return None if not faces else np.asarray(faces[0].landmarks68, dtype=np.float64)

    def _parameters(self, crop: np.ndarray, landmarks: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        from zoo_core.nets.flame_encoder import deca_crop

        config = self.estimator.config
        image = deca_crop(crop, landmarks, config.image_size, config.crop_scale)
        batch = torch.from_numpy(image).permute(2, 0, 1)[None].to(self.device)
        with torch.inference_mode():
            groups = self.estimator.encode(batch)
        return {key: value[0].double().cpu().numpy() for key, value in groups.items()}

    def _original(self, name: str, crop: np.ndarray) -> tuple[np.ndarray | None, dict[str, np.ndarray] | None]:
        """Landmarks and parameters of an original crop, once per photo and crop."""
        key = name + ":" + hashlib.sha1(np.ascontiguousarray(crop).tobytes()).hexdigest()
        if key not in self._cache:
            landmarks = self._landmarks(crop)
            self._cache[key] = (landmarks, None if landmarks is None else self._parameters(crop, landmarks))
        return self._cache[key]

    def _skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def update(self, record: EvaluationRecord) -> None:
        if not isinstance(record, SwapRecord):
            return
        target_landmarks, target_params = self._original(record.target, record.target_crop)
        if target_landmarks is None:
            self._skip("no face found on the target crop")
            return
        if self.reference == "source":
            _, reference = self._original(record.source, record.source_crop)
            if reference is None:
                self._skip("no face found on the source crop")
                return
        else:
            reference = target_params
        swap_landmarks = self._landmarks(record.swap_crop)
        if swap_landmarks is None:
            self.on_target_box += 1
            swap_landmarks = target_landmarks
        swap = self._parameters(record.swap_crop, swap_landmarks)
        self.distances.append(float(np.linalg.norm(swap[self.group] - reference[self.group])))

    def compute(self, context: EvaluationContext) -> MetricResult:
        if not self.distances:
            why = "; ".join(f"{n} pairs: {reason}" for reason, n in self.skipped.items()) or "no swaps"
            return MetricResult.not_applicable(self.name, why)
        stats = describe_values(self.distances)
        label = "shape" if self.group == "shape" else "expression"
        notes = [f"L2 distance of the FLAME {label} parameters ({self.estimator.config.sizes()[self.group]}-d) of swap "
                 f"and {self.reference}, regressed by DECA's coarse encoder on DECA's landmark crops; the papers use "
                 "RingNet, so compare models here, not with the papers' digits"]
        if self.on_target_box:
            notes.append(f"{self.on_target_box} swaps had no detectable face and were cropped with the target's box")
        if self.skipped:
            notes.append("skipped: " + "; ".join(f"{n} pairs ({reason})" for reason, n in self.skipped.items()))
        return MetricResult(
            self.name,
            values={"l2": stats, "pairs": len(self.distances), "skipped": dict(self.skipped),
                    "swaps_on_target_box": self.on_target_box},
            summary={f"{label} ↓": f"{stats['mean']:.3f}"},
            notes=notes,
            samples={"l2": self.distances},
        )


def build_shape_error(weights: str | None = None, device: str = "cpu") -> FlameParameterDistance:
    return FlameParameterDistance("shape", "shape", "source", weights, device)


def build_expression_error(weights: str | None = None, device: str = "cpu") -> FlameParameterDistance:
    return FlameParameterDistance("expression", "exp", "target", weights, device)
