"""Metrics that run an estimator network (a 3DMM regressor, a head-pose network) on the aligned
crops of swap, source and target and compare its outputs: the shared machinery.

Each crop's face is found by dlib's HOG detector with its 68 landmarks (the estimators crop
from the box or the landmarks). A swap on which no face is found is measured with the target's
face instead of being dropped (dropping would hide exactly the failed swaps from the average);
the report counts those pairs. Detections and estimates are cached by crop content (a few
hundred crops), so metrics sharing an estimator (shape, expression, pose by DECA) and the
models of one evaluation run the detector and the estimator once per crop.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from zoo_core.errors import ZooError
from zoo_core.evaluate.metrics import (
    EvaluationContext,
    EvaluationRecord,
    MetricResult,
    SwapRecord,
    describe_values,
)
from zoo_core.faces.detect import Face

Estimate = dict[str, np.ndarray]
_ESTIMATORS: dict[tuple[str, str, str], Any] = {}
_DETECTOR: list[Any] = []
_CACHE_SIZE = 512
_FACES: OrderedDict[str, Face | None] = OrderedDict()
_ESTIMATES: OrderedDict[tuple[int, str, tuple[float, ...]], Estimate] = OrderedDict()


def crop_key(crop: np.ndarray) -> str:
    """Content key of a crop (shape and pixels)."""
    array = np.ascontiguousarray(crop)
    return f"{array.shape}:{hashlib.sha1(array.tobytes()).hexdigest()}"


def _cached(cache: OrderedDict, key: Any, make: Callable[[], Any]) -> Any:
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = cache[key] = make()
    while len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)
    return value


def load_estimator(component: str, weights: str | None, device: str, metric: str, convert_hint: str) -> Any:
    """The estimator component ``component`` with weights from a folder or ``hf-hub:`` repository
    (cached per process); without weights, a one-line error saying how to convert them. Never
    random weights."""
    if not weights:
        raise ZooError(f"{metric} needs the weights of {component}: convert them with '{convert_hint} --output DIR' "
                       f"and pass --metric-option {metric}.weights=DIR")
    key = (component, str(weights), device)
    if key not in _ESTIMATORS:
        from zoo_core.component_weights import load_component

        _ESTIMATORS[key] = load_component(component, weights, device=device)
    return _ESTIMATORS[key]


def first_face(crop: np.ndarray) -> Face | None:
    """The most prominent face of a crop (dlib HOG with 68 landmarks), or None."""
    if not _DETECTOR:
        from zoo_core.faces.detect import create_detector

        _DETECTOR.append(create_detector("dlib-hog"))

    def detect() -> Face | None:
        faces = _DETECTOR[0].detect(crop)
        return faces[0] if faces else None

    return _cached(_FACES, crop_key(crop), detect)


def mean_squared_error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over the coordinates of the squared difference of two parameter vectors."""
    return float(np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2))


def l2_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of two parameter vectors."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


REDUCTIONS = {"l2": l2_distance, "mse": mean_squared_error}


class CropEstimateDistance(ABC):
    """Distance between the estimator's output on the swap crop and on the source's or the
    target's crop (``reference``), one value per pair, reduced by ``reduction``.

    Subclasses set ``estimator`` (the component name, checked against the networks a model
    trained with) and ``network`` (the loaded estimator), and implement
    ``estimate(crop, face) -> {name: vector}`` and ``select``."""

    higher_is_better = False
    needs = frozenset({"swap"})
    capability: str | None = None
    estimator: str = ""
    network: Any = None

    def __init__(self, name: str, reference: Literal["source", "target"], reduction: Literal["l2", "mse"],
                 label: str, definition: str):
        self.name = name
        self.reference = reference
        self.reduction = reduction
        self.label = label
        self.definition = definition
        self.distances: list[float] = []
        self.skipped: dict[str, int] = {}
        self.on_target_box = 0

    @abstractmethod
    def estimate(self, crop: np.ndarray, face: Face) -> Estimate:
        """Named estimator outputs for the face of one crop."""

    @abstractmethod
    def select(self, estimate: Estimate) -> np.ndarray:
        """The vector this metric compares."""

    def measure(self, crop: np.ndarray, face: Face) -> Estimate:
        """``estimate`` through the shared cache (keyed by network, crop and face box)."""
        key = (id(self.network), crop_key(crop), tuple(float(v) for v in face.box))
        return _cached(_ESTIMATES, key, lambda: self.estimate(crop, face))

    def original(self, crop: np.ndarray) -> tuple[Face | None, Estimate | None]:
        """Face and estimate of an original crop."""
        face = first_face(crop)
        return face, None if face is None else self.measure(crop, face)

    def generated(self, crop: np.ndarray, fallback: Face) -> Estimate:
        """Estimate of a generated crop, with ``fallback`` (the target's face) when none is found."""
        face = first_face(crop)
        if face is None:
            self.on_target_box += 1
            face = fallback
        return self.measure(crop, face)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def add(self, swap: np.ndarray, reference: np.ndarray) -> None:
        """Record one pair's compared vectors."""
        self.distances.append(REDUCTIONS[self.reduction](swap, reference))

    def update(self, record: EvaluationRecord) -> None:
        if not isinstance(record, SwapRecord):
            return
        target_face, target = self.original(record.target_crop)
        if target_face is None or target is None:
            self.skip("no face found on the target crop")
            return
        reference = target
        if self.reference == "source":
            _, reference = self.original(record.source_crop)
            if reference is None:
                self.skip("no face found on the source crop")
                return
        swap = self.generated(record.swap_crop, target_face)
        self.add(self.select(swap), self.select(reference))

    def extra_values(self) -> dict[str, Any]:
        """Values besides the distance statistics (per-axis errors, ...)."""
        return {}

    def compute(self, context: EvaluationContext) -> MetricResult:
        if not self.distances:
            why = "; ".join(f"{n} pairs: {reason}" for reason, n in self.skipped.items()) or "no swaps"
            return MetricResult.not_applicable(self.name, why)
        stats = describe_values(self.distances)
        notes = [self.definition]
        if self.on_target_box:
            notes.append(f"{self.on_target_box} swaps had no detectable face and were measured with the target's face.")
        if self.skipped:
            notes.append("Skipped: " + "; ".join(f"{n} pairs ({reason})" for reason, n in self.skipped.items()) + ".")
        return MetricResult(
            self.name,
            values={self.reduction: stats, "pairs": len(self.distances), "reference": self.reference,
                    "skipped": dict(self.skipped), "swaps_on_target_box": self.on_target_box, **self.extra_values()},
            summary={self.label: f"{stats['mean']:.3f}"},
            notes=notes,
            samples={self.reduction: self.distances},
        )
