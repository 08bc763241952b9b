"""The evaluation recognizer: a registered component of kind "recognizer", never the identity
encoder the model was trained with.

The papers measure identity with a recognizer other than the one in the training loss
(InfoSwap and FaceShifter use CosFace, Table 1); measuring with the training encoder rewards a
model for fooling exactly that network. The default is dlib's 128-d ResNet (``dlib-resnet``,
offline). A plugin adds one with ``register_components``: ``ComponentSpec(kind="recognizer",
builder=...)`` returning an object with ``describe(image, face) -> vector`` and either
``same_person_distance`` (Euclidean) or ``same_person_cosine`` (cosine) as its verification
threshold; ``data={"identity_encoder": NAME}`` names the network it wraps, if any. An optional
``describe_batch(images, faces) -> (N, D)`` describes many faces in one call (``dlib-resnet-torch``
runs them as one network batch).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from zoo_core.errors import ZooError, ZooWarning
from zoo_core.evaluate.specs import DEFAULT_RECOGNIZER
from zoo_core.faces.detect import Face

__all__ = ["DEFAULT_RECOGNIZER", "EvaluationRecognizer", "Recognizer", "SamePersonRule", "check_recognizer",
           "check_recognizer_kind", "check_supervisors", "cosine_matrix", "cosine_rows", "load_recognizer",
           "training_networks"]


@runtime_checkable
class Recognizer(Protocol):
    """What a recognizer component builds."""

    name: str

    def describe(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The identity embedding of ``face`` in the ``(H, W, 3) uint8`` RGB ``image``."""
        ...


@dataclass(frozen=True)
class SamePersonRule:
    """The recognizer's verification threshold: two faces are the same person when their
    Euclidean distance is below ``threshold``, or their cosine similarity above it."""

    distance: Literal["euclidean", "cosine"]
    threshold: float
    source: str

    def accepts(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Row-wise "same person" decisions for embeddings ``a`` and ``b`` of shape ``(N, D)``."""
        a, b = np.atleast_2d(a), np.atleast_2d(b)
        if self.distance == "euclidean":
            return np.linalg.norm(a - b, axis=1) < self.threshold
        return cosine_rows(a, b) > self.threshold

    def describe(self) -> str:
        relation = "Euclidean distance <" if self.distance == "euclidean" else "cosine similarity >"
        return f"{relation} {self.threshold:g} ({self.source})"


@dataclass
class EvaluationRecognizer:
    """A built recognizer with its name and verification rule."""

    name: str
    impl: Any
    rule: SamePersonRule | None

    def describe(self, image: np.ndarray, face: Face) -> np.ndarray:
        return np.asarray(self.impl.describe(image, face), dtype=np.float64).reshape(-1)

    def describe_batch(self, images: Sequence[np.ndarray], faces: Sequence[Face]) -> np.ndarray:
        """``(N, D)`` embeddings of ``faces[i]`` in ``images[i]``: one call to the recognizer's
        ``describe_batch`` when it has one, else ``describe`` face by face."""
        batch = getattr(self.impl, "describe_batch", None)
        if batch is not None:
            return np.asarray(batch(images, faces), dtype=np.float64).reshape(len(faces), -1)
        return np.stack([self.describe(image, face) for image, face in zip(images, faces, strict=True)])


def _rule_of(impl: Any, name: str) -> SamePersonRule | None:
    if getattr(impl, "same_person_distance", None) is not None:
        source = "dlib's documented same-person threshold" if name == "dlib-resnet" else f"{name}'s same_person_distance"
        return SamePersonRule("euclidean", float(impl.same_person_distance), source)
    if getattr(impl, "same_person_cosine", None) is not None:
        return SamePersonRule("cosine", float(impl.same_person_cosine), f"{name}'s same_person_cosine")
    return None


def check_recognizer(recognizer: str, spec: Any) -> None:
    """Refuse a recognizer that is (or wraps) the identity encoder ``spec`` was trained with."""
    encoder = getattr(spec, "identity_encoder", None)
    if encoder is None:
        return
    wrapped = None
    if recognizer != encoder:
        from zoo_core.registry import get_registry

        component = get_registry().components.get(recognizer)
        wrapped = component.data.get("identity_encoder") if component is not None else None
    if recognizer == encoder or wrapped == encoder:
        raise ZooError(
            f"recognizer {recognizer!r} is the identity encoder {encoder!r} that {spec.name} was trained "
            f"with; evaluate with a different recognizer (the papers use CosFace), e.g. "
            f"--recognizer {DEFAULT_RECOGNIZER}"
        )


def training_networks(spec: Any) -> frozenset[str]:
    """Component names of the frozen networks whose outputs ``spec``'s model was trained to
    match: its identity encoder and its declared ``supervisors`` (e.g. a 3DMM regressor)."""
    names = {getattr(spec, "identity_encoder", None), *getattr(spec, "supervisors", ())}
    return frozenset(name for name in names if name)


def check_supervisors(metrics: Mapping[str, Any], spec: Any) -> None:
    """One ``ZooWarning`` naming the metrics that measure with a network ``spec``'s model was
    trained against (a metric's ``estimator``): the model is rewarded for fitting that network,
    so those numbers flatter it (the papers measure with other networks)."""
    trained = training_networks(spec)
    flattered = {name: metric.estimator for name, metric in metrics.items() if getattr(metric, "estimator", "") in trained}
    if flattered:
        networks = ", ".join(sorted(set(flattered.values())))
        warnings.warn(ZooWarning(
            f"{', '.join(flattered)} on {spec.name}: measured with {networks}, which {spec.name} was trained to "
            "match (its losses), so these numbers reward fitting that network; compare with care (the papers "
            "measure with another estimator)"), stacklevel=2)


def check_recognizer_kind(name: str) -> None:
    """Refuse a component that is not a recognizer (cheap: reads the spec only)."""
    from zoo_core.registry import get_component_spec

    spec = get_component_spec(name)
    if spec.kind != "recognizer":
        raise ZooError(f"component {name!r} is a {spec.kind}, not a recognizer (zoo info {name}); "
                       f"recognizers register ComponentSpec(kind='recognizer')")


def load_recognizer(name: str = DEFAULT_RECOGNIZER) -> EvaluationRecognizer:
    """Build the registered recognizer component ``name``."""
    from zoo_core.registry import create_component

    check_recognizer_kind(name)
    impl = create_component(name)
    if not isinstance(impl, Recognizer):
        raise ZooError(f"recognizer {name!r} built {type(impl).__name__}, which lacks name and describe(image, face)")
    return EvaluationRecognizer(name, impl, _rule_of(impl, name))


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row of ``a`` with the same row of ``b``."""
    a, b = np.atleast_2d(np.asarray(a, dtype=np.float64)), np.atleast_2d(np.asarray(b, dtype=np.float64))
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(N, M)`` cosine similarities of every row of ``a`` with every row of ``b``."""
    a, b = np.atleast_2d(np.asarray(a, dtype=np.float64)), np.atleast_2d(np.asarray(b, dtype=np.float64))
    a = a / (np.linalg.norm(a, axis=1, keepdims=True) + 1e-12)
    b = b / (np.linalg.norm(b, axis=1, keepdims=True) + 1e-12)
    return a @ b.T
