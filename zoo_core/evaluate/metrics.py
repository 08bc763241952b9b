"""The papers' face-swap metrics, computed from the records the evaluation engine streams.

Each metric is built by its ``MetricSpec`` builder (``zoo_core.evaluate.specs``), is fed
records of the kinds it ``needs`` (``update``) and reduces them once (``compute``). The pure
functions below (statistics, retrieval, pose, Frechet distance) carry the definitions and are
unit-tested on hand-made inputs.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from zoo_core.errors import ZooError
from zoo_core.evaluate.recognizers import SamePersonRule, cosine_matrix, cosine_rows

# --- records the engine streams -----------------------------------------------------------


@dataclass
class SwapRecord:
    """One cross-identity pair after the swap. Crops are the aligned ``(R, R, 3) uint8`` model
    inputs and output; embeddings are the recognizer's, of the whole photos (the swap pasted
    back into the target photo, described at the target's face box)."""

    kind: ClassVar[str] = "swap"
    index: int
    source: str
    target: str
    source_id: str | None
    target_id: str | None
    source_crop: np.ndarray
    target_crop: np.ndarray
    swap_crop: np.ndarray
    swap_seconds: float
    image_size: tuple[int, int]
    source_embedding: np.ndarray | None = None
    target_embedding: np.ndarray | None = None
    swap_embedding: np.ndarray | None = None
    target_landmarks: np.ndarray | None = None
    swap_landmarks: np.ndarray | None = None


@dataclass
class ReconstructionRecord:
    """``swap(source, photo)`` against ``photo`` on the aligned crop; ``self_swap``: the source
    is the photo itself (swap(x, x)), otherwise another photo of the same identity."""

    kind: ClassVar[str] = "reconstruction"
    photo: str
    source: str
    self_swap: bool
    original: np.ndarray
    reconstruction: np.ndarray


@dataclass
class MixRecord:
    """One ID-mixing triplet (MFIM Sec. 4.4): embeddings of both sources, of the mix, and of
    the plain swaps with only the global or only the local source (Table 5's rows)."""

    kind: ClassVar[str] = "mix"
    target: str
    global_source: str
    local_source: str
    global_embedding: np.ndarray
    local_embedding: np.ndarray
    mix_embedding: np.ndarray
    global_swap_embedding: np.ndarray
    local_swap_embedding: np.ndarray
    # aligned (R, R, 3) uint8 crops, for shape metrics (R-Shape)
    global_crop: np.ndarray | None = None
    local_crop: np.ndarray | None = None
    target_crop: np.ndarray | None = None
    mix_crop: np.ndarray | None = None
    global_swap_crop: np.ndarray | None = None
    local_swap_crop: np.ndarray | None = None


@dataclass
class DeidentifyRecord:
    """One same-person pair (StyleFace Sec. 4.3): the reference photo, the second photo and the
    second photo de-identified."""

    kind: ClassVar[str] = "deidentify"
    reference: str
    anonymized: str
    reference_embedding: np.ndarray
    original_embedding: np.ndarray
    deidentified_embedding: np.ndarray


@dataclass
class PipelineRecord:
    """Wall-clock seconds of one whole-photo swap: read, detect, align, swap, paste back."""

    kind: ClassVar[str] = "pipeline"
    source: str
    target: str
    seconds: float


EvaluationRecord = SwapRecord | ReconstructionRecord | MixRecord | DeidentifyRecord | PipelineRecord


@dataclass
class EvaluationContext:
    """What ``compute`` may use besides the records: the model, the recognizer's rule and the
    gallery of original photos (embeddings, identities, names) for retrieval."""

    model: str
    capabilities: frozenset[str]
    recognizer: str
    rule: SamePersonRule | None
    device: str = "cpu"
    gallery_embeddings: np.ndarray | None = None
    gallery_ids: tuple[str, ...] = ()
    gallery_names: tuple[str, ...] = ()


@dataclass
class MetricResult:
    """A metric's outcome for one model: JSON-ready ``values``, the cells it adds to the
    comparison table (``summary``: column header -> text), definitions (``notes``), and
    per-pair ``samples`` for plots. A metric that does not apply says why (``reason``)."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    samples: dict[str, list[float]] = field(default_factory=dict)
    applicable: bool = True
    reason: str = ""

    @classmethod
    def not_applicable(cls, name: str, reason: str) -> MetricResult:
        return cls(name, applicable=False, reason=reason)

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


# --- pure definitions ---------------------------------------------------------------------


def describe_values(values: Iterable[float]) -> dict[str, float]:
    """n, mean, std (sample std, ddof = 1; 0 for one value), median and quartiles."""
    array = np.asarray(list(values), dtype=np.float64)
    if array.size == 0:
        return {"n": 0, "mean": float("nan"), "std": float("nan"), "median": float("nan"),
                "q1": float("nan"), "q3": float("nan")}
    q1, median, q3 = np.percentile(array, [25, 50, 75])
    std = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return {"n": int(array.size), "mean": float(array.mean()), "std": std, "median": float(median),
            "q1": float(q1), "q3": float(q3)}


def ksigma_shares(swap_target: Sequence[float], mu_st: float, sigma_st: float,
                  ks: Sequence[float] = (1, 2, 3)) -> dict[str, float]:
    """InfoSwap Sec. 3.1/4.2: the share of swaps whose cosine similarity to the target lies in
    ``mu_st +- k * sigma_st`` (closed interval), with ``mu_st``, ``sigma_st`` the mean and std
    of the source-target similarities. Keys are ``str(k)``."""
    values = np.asarray(swap_target, dtype=np.float64)
    if values.size == 0:
        return {_k(k): float("nan") for k in ks}
    return {_k(k): float(np.mean(np.abs(values - mu_st) <= k * sigma_st + 1e-12)) for k in ks}


def _k(k: float) -> str:
    return str(int(k)) if float(k).is_integer() else str(k)


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether the closed intervals ``a`` and ``b`` share a point."""
    return a[0] <= b[1] and b[0] <= a[1]


def top1_retrieval(queries: np.ndarray, gallery: np.ndarray, gallery_ids: Sequence[str]) -> list[str]:
    """The identity of each query's nearest gallery face by cosine similarity (InfoSwap
    Table 1, FaceShifter's protocol)."""
    similarities = cosine_matrix(queries, gallery)
    return [gallery_ids[int(i)] for i in similarities.argmax(axis=1)]


PSNR_CAP_DB = 100.0


def l1_error(original: np.ndarray, reconstruction: np.ndarray) -> float:
    """Mean absolute difference of two uint8 images, on the [0, 1] scale."""
    return float(np.mean(np.abs(original.astype(np.float64) - reconstruction.astype(np.float64))) / 255.0)


def psnr(original: np.ndarray, reconstruction: np.ndarray) -> float:
    """PSNR in dB of two uint8 images with peak 1 on the [0, 1] scale; identical images get
    ``PSNR_CAP_DB`` (the MSE is floored at 1e-10) so averages stay finite."""
    mse = np.mean(((original.astype(np.float64) - reconstruction.astype(np.float64)) / 255.0) ** 2)
    return float(min(PSNR_CAP_DB, 10.0 * math.log10(1.0 / max(float(mse), 1e-10))))


def relative_identity(mix: np.ndarray, first: np.ndarray, second: np.ndarray) -> float:
    """MFIM Sec. 4.4: ``R-ID(first) = D(mix, first) / (D(mix, first) + D(mix, second))`` with D
    the L2 distance of recognizer embeddings; ``R-ID(first) + R-ID(second) = 1``."""
    d_first = float(np.linalg.norm(np.asarray(mix) - np.asarray(first)))
    d_second = float(np.linalg.norm(np.asarray(mix) - np.asarray(second)))
    total = d_first + d_second
    return 0.5 if total == 0 else d_first / total


# Generic 3D face (the widely used six-point model, in arbitrary units) in camera-like axes:
# x to the image's right, y down, z away from the camera, so a frontal face has R = I.
POSE_LANDMARKS = (30, 8, 36, 45, 48, 54)  # nose tip, chin, outer eye corners, mouth corners (iBUG 68)
GENERIC_FACE_3D = np.array([
    [0.0, 0.0, 0.0],
    [0.0, 330.0, 65.0],
    [-225.0, -170.0, 135.0],
    [225.0, -170.0, 135.0],
    [-150.0, 150.0, 125.0],
    [150.0, 150.0, 125.0],
])


def camera_matrix(image_size: tuple[int, int]) -> np.ndarray:
    """Pinhole camera of an uncalibrated photo: focal length = the longer side, centred."""
    width, height = image_size
    focal = float(max(width, height))
    return np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])


def head_pose(landmarks68: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """The head rotation (3x3) from six of the 68 dlib landmarks: ``cv2.solvePnP`` (iterative,
    started from a frontal pose at the distance the eye corners imply) against
    ``GENERIC_FACE_3D``. An offline fallback: the papers estimate pose with Hopenet or a 3DMM."""
    import cv2

    points = np.asarray(landmarks68, dtype=np.float64)[list(POSE_LANDMARKS)]
    camera = camera_matrix(image_size)
    eye_span = float(np.linalg.norm(points[3] - points[2])) or 1.0
    depth = camera[0, 0] * 450.0 / eye_span
    nose = points[0]
    tvec = np.array([[(nose[0] - camera[0, 2]) * depth / camera[0, 0]],
                     [(nose[1] - camera[1, 2]) * depth / camera[1, 1]], [depth]])
    rvec = np.zeros((3, 1))
    ok, rvec, tvec = cv2.solvePnP(GENERIC_FACE_3D, points, camera, np.zeros(4), rvec, tvec,
                                  useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        raise ZooError("head pose: cv2.solvePnP found no solution")
    rotation, _ = cv2.Rodrigues(rvec)
    return rotation


def euler_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """(pitch, yaw, roll) in degrees of ``R = Rz(roll) Ry(yaw) Rx(pitch)``."""
    r = np.asarray(rotation, dtype=np.float64)
    yaw = math.asin(float(np.clip(-r[2, 0], -1.0, 1.0)))
    pitch = math.atan2(r[2, 1], r[2, 2])
    roll = math.atan2(r[1, 0], r[0, 0])
    return math.degrees(pitch), math.degrees(yaw), math.degrees(roll)


def rotation_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Geodesic distance (degrees) between two rotations: the angle of ``a^T b``."""
    cos = (float(np.trace(np.asarray(a).T @ np.asarray(b))) - 1.0) / 2.0
    return math.degrees(math.acos(float(np.clip(cos, -1.0, 1.0))))


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))`` (Heusel et al. 2017), with the trace
    of the square root from the eigenvalues of ``S1 S2``, as in TTUR and torch-fidelity."""
    diff = np.asarray(mu1, dtype=np.float64) - np.asarray(mu2, dtype=np.float64)
    s1, s2 = np.asarray(sigma1, dtype=np.float64), np.asarray(sigma2, dtype=np.float64)
    tr_covmean = float(np.sum(np.sqrt(np.linalg.eigvals(s1 @ s2).astype(np.complex128)).real))
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)


def _pm(stats: dict[str, float], digits: int = 3) -> str:
    return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}" if stats["n"] else "n/a"


# --- metrics ------------------------------------------------------------------------------


@runtime_checkable
class Metric(Protocol):
    """One registered evaluation metric: ``MetricSpec.builder(**options)`` returns a fresh one
    per evaluated model. The engine (``zoo_core.evaluate.engine``) streams it the records it
    asks for and then reduces them with ``compute``.

    ``needs`` names the record kinds to produce: ``"swap"`` (cross-identity pairs, with
    ``SwapRecord``), ``"identity"`` (recognizer embeddings in those records, and the gallery of
    original photos in the context), ``"landmarks"`` (68 landmarks of swap and target),
    ``"reconstruction"``, ``"mix"``, ``"deidentify"`` and ``"pipeline"`` (whole-photo timings).
    ``capability``: the model capability the metric requires (``"mix"``, ``"deidentify"``);
    a model without it gets a "not applicable" result instead of a number.
    """

    name: str
    higher_is_better: bool
    needs: frozenset[str]
    capability: str | None

    def update(self, record: EvaluationRecord) -> None:
        """Accumulate one record of a kind listed in ``needs``."""
        ...

    def compute(self, context: EvaluationContext) -> MetricResult:
        """Return the metric's values over every record seen (``context``: the gallery of
        original photos, the recognizer's same-person rule, the model)."""
        ...


class _Base:
    name: str = ""
    higher_is_better: bool = True
    needs: frozenset[str] = frozenset()
    capability: str | None = None


class IdentitySimilarity(_Base):
    """InfoSwap Table 3 / Fig. 5: cosine similarities of the swap to the source and to the target,
    and of source to target, mean and std over the pairs."""

    name = "id-similarity"
    needs = frozenset({"swap", "identity"})

    def __init__(self) -> None:
        self.swap_source: list[float] = []
        self.swap_target: list[float] = []
        self.source_target: list[float] = []

    def update(self, record: EvaluationRecord) -> None:
        if not isinstance(record, SwapRecord):
            return
        self.swap_source.append(float(cosine_rows(record.swap_embedding, record.source_embedding)[0]))
        self.swap_target.append(float(cosine_rows(record.swap_embedding, record.target_embedding)[0]))
        self.source_target.append(float(cosine_rows(record.source_embedding, record.target_embedding)[0]))

    def compute(self, context: EvaluationContext) -> MetricResult:
        if not self.swap_source:
            return MetricResult.not_applicable(self.name, "no pair with a face in both photos")
        ss, st_, src_tgt = (describe_values(v) for v in (self.swap_source, self.swap_target, self.source_target))
        return MetricResult(
            self.name,
            values={"swap_source": ss, "swap_target": st_, "source_target": src_tgt},
            summary={"cos(swap, source) ↑": _pm(ss), "cos(swap, target)": _pm(st_)},
            notes=[f"cosine similarity of {context.recognizer} embeddings of whole photos (the swap pasted back "
                   f"into the target photo); mean ± std (sample std) over {ss['n']} pairs; source with target: "
                   f"{_pm(src_tgt)} (InfoSwap Table 3)"],
            samples={"swap_source": self.swap_source, "swap_target": self.swap_target,
                     "source_target": self.source_target},
        )


class IdentityDistance(_Base):
    """MFIM Tables 2-4 "Identity": L2 distance between the recognizer's embeddings of the swap
    and of the source (raw, not normalised), mean over the pairs."""

    name = "identity-mfim"
    higher_is_better = False
    needs = frozenset({"swap", "identity"})

    def __init__(self) -> None:
        self.distances: list[float] = []

    def update(self, record: EvaluationRecord) -> None:
        if not isinstance(record, SwapRecord):
            return
        difference = np.asarray(record.swap_embedding, dtype=np.float64) - np.asarray(record.source_embedding, dtype=np.float64)
        self.distances.append(float(np.linalg.norm(difference)))

    def compute(self, context: EvaluationContext) -> MetricResult:
        if not self.distances:
            return MetricResult.not_applicable(self.name, "no pair with a face in both photos")
        stats = describe_values(self.distances)
        return MetricResult(
            self.name, values={"l2": stats},
            summary={"identity L2 ↓": f"{stats['mean']:.3f}"},
            notes=[f"L2 distance of {context.recognizer} embeddings (unnormalised) of the pasted swap and the source "
                   "photo, mean over the pairs (MFIM Tables 2-4 'Identity'; MFIM uses a VGGFace2 recognizer, whose "
                   "feature scale differs: compare models here, not with the paper's digits)"],
            samples={"l2": self.distances},
        )


class IdentityDiscriminability(_Base):
    """InfoSwap Sec. 3.1 and 4.2: a swapped identity is discriminative when its similarity to
    the target stays at the source-target level (share within ``mu_st +- k sigma_st``) and the
    swap-source and swap-target interval estimations do not overlap."""

    name = "id-discriminability"
    needs = frozenset({"swap", "identity"})

    def __init__(self, ks: Sequence[float] = (1, 2, 3)) -> None:
        self.ks = tuple(float(k) for k in ks)
        self.similarity = IdentitySimilarity()

    def update(self, record: EvaluationRecord) -> None:
        self.similarity.update(record)

    def compute(self, context: EvaluationContext) -> MetricResult:
        sim = self.similarity
        if not sim.swap_source:
            return MetricResult.not_applicable(self.name, "no pair with a face in both photos")
        ss, st_, src_tgt = (describe_values(v) for v in (sim.swap_source, sim.swap_target, sim.source_target))
        mu, sigma = src_tgt["mean"], src_tgt["std"]
        shares = ksigma_shares(sim.swap_target, mu, sigma, self.ks)
        source_interval = (ss["mean"] - ss["std"], ss["mean"] + ss["std"])
        target_interval = (st_["mean"] - st_["std"], st_["mean"] + st_["std"])
        overlap = intervals_overlap(source_interval, target_interval)
        iqr_overlap = intervals_overlap((ss["q1"], ss["q3"]), (st_["q1"], st_["q3"]))
        gap = source_interval[0] - target_interval[1]
        share_text = " / ".join(f"{100 * shares[_k(k)]:.1f}" for k in self.ks)
        belt = "/".join(f"{_k(k)}σ" for k in self.ks)
        if overlap:
            verdict = "no: they overlap"
        elif gap > 0:
            verdict = f"yes (gap {gap:.3f})"
        else:
            verdict = f"no: nearer the target (gap {gap:.3f})"
        return MetricResult(
            self.name,
            values={"mu_st": mu, "sigma_st": sigma, "within_k_sigma": shares,
                    "source_interval": list(source_interval), "target_interval": list(target_interval),
                    "intervals_overlap": overlap, "gap": gap, "discriminative": bool(not overlap and gap > 0),
                    "source_box": [ss["q1"], ss["q3"]], "target_box": [st_["q1"], st_["q3"]],
                    "boxes_overlap": iqr_overlap},
            summary={f"in μst ± {belt} (%) ↑": share_text, "intervals apart": verdict},
            notes=[f"share of swaps whose cos(swap, target) lies in μst ± kσst, μst = {mu:.3f}, σst = {sigma:.3f} "
                   f"(mean and std of cos(source, target); InfoSwap reports 59.44 / 88.57 / 97.61 % for k = 1/2/3)",
                   "interval estimations (InfoSwap Sec. 3.1: 'no overlap between the interval estimations of two "
                   "identity similarities') are mean ± std of cos(swap, source) and of cos(swap, target), the "
                   "Table 3 columns; 'apart' = no overlap with the source interval above the target one; gap = "
                   "lower end of the source interval minus upper end of the target one. "
                   f"The Fig. 5 boxes (quartiles) {'overlap' if iqr_overlap else 'do not overlap'}."],
        )


class IdentityRetrieval(_Base):
    """InfoSwap Table 1 (FaceShifter protocol): for each swap, the nearest original face by cosine
    among all original photos; correct if it belongs to the source identity."""

    name = "id-retrieval"
    needs = frozenset({"swap", "identity"})

    def __init__(self) -> None:
        self.queries: list[np.ndarray] = []
        self.source_ids: list[str] = []
        self.target_ids: list[str | None] = []

    def update(self, record: EvaluationRecord) -> None:
        if not isinstance(record, SwapRecord):
            return
        if record.source_id is not None:
            self.queries.append(record.swap_embedding)
            self.source_ids.append(record.source_id)
            self.target_ids.append(record.target_id)

    def compute(self, context: EvaluationContext) -> MetricResult:
        if context.gallery_embeddings is None or not len(context.gallery_ids):
            return MetricResult.not_applicable(self.name, "no photo has an identity label (give source_id/target_id or use --data)")
        if not self.queries:
            return MetricResult.not_applicable(self.name, "no pair has a labelled source identity")
        found = top1_retrieval(np.stack(self.queries), context.gallery_embeddings, context.gallery_ids)
        hits = [float(f == s) for f, s in zip(found, self.source_ids, strict=True)]
        to_target = [float(f == t) for f, t in zip(found, self.target_ids, strict=True)]
        accuracy = 100.0 * float(np.mean(hits))
        return MetricResult(
            self.name,
            values={"top1_source": accuracy, "top1_target": 100.0 * float(np.mean(to_target)),
                    "queries": len(hits), "gallery": len(context.gallery_ids),
                    "identities": len(set(context.gallery_ids))},
            summary={"ID retrieval (%) ↑": f"{accuracy:.1f}"},
            notes=[f"top-1: the nearest of {len(context.gallery_ids)} original photos "
                   f"({len(set(context.gallery_ids))} identities) by cosine of {context.recognizer} embeddings "
                   "belongs to the source identity (InfoSwap Table 1, FaceShifter protocol); "
                   f"{100.0 * float(np.mean(to_target)):.1f}% of the swaps retrieve the target identity instead"],
            samples={"hit": hits},
        )


class Reconstruction(_Base):
    """swap(x, x) against x on the aligned crop (L1 on [0, 1], PSNR), and swap(y, x) with y
    another photo of x's identity (StyleFace's attribute-preserving loss, Eq. 7, as a metric)."""

    name = "reconstruction"
    higher_is_better = False
    needs = frozenset({"reconstruction"})

    def __init__(self) -> None:
        self.l1: dict[bool, list[float]] = {True: [], False: []}
        self.psnr: dict[bool, list[float]] = {True: [], False: []}

    def update(self, record: EvaluationRecord) -> None:
        if not isinstance(record, ReconstructionRecord):
            return
        self.l1[record.self_swap].append(l1_error(record.original, record.reconstruction))
        self.psnr[record.self_swap].append(psnr(record.original, record.reconstruction))

    def compute(self, context: EvaluationContext) -> MetricResult:
        if not self.l1[True]:
            return MetricResult.not_applicable(self.name, "no photo with a face")
        values: dict[str, Any] = {"self": {"l1": describe_values(self.l1[True]), "psnr": describe_values(self.psnr[True])}}
        summary = {"L1 swap(x,x) ↓": f"{values['self']['l1']['mean']:.4f}",
                   "PSNR swap(x,x) (dB) ↑": f"{values['self']['psnr']['mean']:.2f}"}
        if self.l1[False]:
            values["same_identity"] = {"l1": describe_values(self.l1[False]), "psnr": describe_values(self.psnr[False])}
            summary["L1 same-ID ↓"] = f"{values['same_identity']['l1']['mean']:.4f}"
        return MetricResult(
            self.name, values=values, summary=summary,
            notes=["reconstruction on the aligned crop at the model's resolution: L1 = mean |swap - x| on [0, 1], "
                   f"PSNR = 10 log10(1 / MSE) per crop, averaged (identical crops count as {PSNR_CAP_DB:g} dB); "
                   "'same-ID' uses another photo of x's identity as the source"],
        )


class RelativeIdentity(_Base):
    """MFIM Sec. 4.4, Table 5: R-ID(gb) of ID-mixed swaps, and of plain swaps with only the global
    or only the local source for reference."""

    name = "r-id"
    higher_is_better = False
    needs = frozenset({"mix", "identity"})
    capability = "mix"

    def __init__(self) -> None:
        self.rows: dict[str, list[float]] = {"mix": [], "global": [], "local": []}

    def update(self, record: EvaluationRecord) -> None:
        if not isinstance(record, MixRecord):
            return
        g, lc = record.global_embedding, record.local_embedding
        self.rows["mix"].append(relative_identity(record.mix_embedding, g, lc))
        self.rows["global"].append(relative_identity(record.global_swap_embedding, g, lc))
        self.rows["local"].append(relative_identity(record.local_swap_embedding, g, lc))

    def compute(self, context: EvaluationContext) -> MetricResult:
        if not self.rows["mix"]:
            return MetricResult.not_applicable(self.name, "no (global source, local source, target) triplet with faces")
        stats = {row: describe_values(v) for row, v in self.rows.items()}
        values = {row: {"r_id_gb": s["mean"], "r_id_lc": 1.0 - s["mean"], "std": s["std"], "n": s["n"]}
                  for row, s in stats.items()}
        return MetricResult(
            self.name, values=values,
            summary={"R-ID(gb) mix": f"{values['mix']['r_id_gb']:.3f} (local {values['local']['r_id_gb']:.3f}, "
                                     f"global {values['global']['r_id_gb']:.3f})"},
            notes=["R-ID(gb) = D(x_mix, x_gb) / (D(x_mix, x_gb) + D(x_mix, x_lc)), D = L2 distance of "
                   f"{context.recognizer} embeddings (MFIM Sec. 4.4); R-ID(lc) = 1 - R-ID(gb). About 0.5: a "
                   "new, mixed identity; the 'local'/'global' rows swap with only that source (MFIM Table 5: "
                   "0.602 / 0.515 / 0.399)"],
            samples=self.rows,
        )


class DeidentificationTAR(_Base):
    """StyleFace Sec. 4.3, Table 2: anonymize the second photo of each same-person pair; the true
    acceptance rate of (first, anonymized second) at the recognizer's threshold (lower = better)."""

    name = "deid-tar"
    higher_is_better = False
    needs = frozenset({"deidentify", "identity"})
    capability = "deidentify"

    def __init__(self) -> None:
        self.records: list[DeidentifyRecord] = []

    def update(self, record: EvaluationRecord) -> None:
        if not isinstance(record, DeidentifyRecord):
            return
        self.records.append(record)

    def compute(self, context: EvaluationContext) -> MetricResult:
        if context.rule is None:
            return MetricResult.not_applicable(self.name, f"recognizer {context.recognizer!r} declares no same-person threshold")
        if not self.records:
            return MetricResult.not_applicable(self.name, "no same-identity pair of photos with faces")
        reference = np.stack([r.reference_embedding for r in self.records])
        original = context.rule.accepts(reference, np.stack([r.original_embedding for r in self.records]))
        anonymized = context.rule.accepts(reference, np.stack([r.deidentified_embedding for r in self.records]))
        n = len(self.records)
        tar, tar_original = float(anonymized.mean()), float(original.mean())
        return MetricResult(
            self.name,
            values={"tar": tar, "tar_original": tar_original, "pairs": n,
                    "std_error": math.sqrt(tar * (1 - tar) / n), "threshold": context.rule.describe(),
                    "distance": context.rule.distance, "threshold_value": context.rule.threshold},
            summary={"De-ID TAR ↓": f"{tar:.3f} (original {tar_original:.3f})"},
            notes=[f"true acceptance rate of {n} same-person pairs after de-identifying the second photo; accepted "
                   f"when {context.rule.describe()} (StyleFace Table 2 uses FaceNet; 'original' = without "
                   "de-identification)"],
            samples={"accepted": [float(a) for a in anonymized]},
        )


class Latency(_Base):
    """Milliseconds per swap (the model call on aligned crops, batch 1, after one warm-up call)
    and per photo (read, detect, align, swap, paste back), as StyleFace Table 1's inference speed."""

    name = "latency"
    higher_is_better = False
    needs = frozenset({"swap", "pipeline"})

    def __init__(self, pipeline_photos: int = 5) -> None:
        if pipeline_photos < 0:
            raise ValueError("pipeline_photos must be >= 0")
        self.pipeline_photos = int(pipeline_photos)
        self.swap_ms: list[float] = []
        self.pipeline_ms: list[float] = []

    def update(self, record: EvaluationRecord) -> None:
        if isinstance(record, SwapRecord):
            self.swap_ms.append(1000.0 * record.swap_seconds)
        elif isinstance(record, PipelineRecord):
            self.pipeline_ms.append(1000.0 * record.seconds)

    def compute(self, context: EvaluationContext) -> MetricResult:
        if not self.swap_ms:
            return MetricResult.not_applicable(self.name, "no swap was run")
        swap, pipeline = describe_values(self.swap_ms), describe_values(self.pipeline_ms)
        summary = {"ms/swap ↓": f"{swap['median']:.1f}"}
        if pipeline["n"]:
            summary["ms/photo ↓"] = f"{pipeline['median']:.0f}"
        return MetricResult(
            self.name, values={"swap_ms": swap, "pipeline_ms": pipeline, "device": context.device},
            summary=summary,
            notes=[f"medians on {context.device}: model.swap on one aligned pair ({swap['n']} calls after a warm-up) "
                   f"and a whole photo through FaceSwapper.swap_image ({pipeline['n']} photos: read, detect both "
                   "faces, align, swap, paste back)"],
            samples={"swap_ms": self.swap_ms, "pipeline_ms": self.pipeline_ms},
        )


class PoseError(_Base):
    """Offline head-pose error between swap and target (no paper's protocol; the papers' are
    ``pose-styleface``, ``pose-mfim`` and ``pose-infoswap``): the angle between the rotations
    ``cv2.solvePnP`` finds for their 68 dlib landmarks against a generic 3D face."""

    name = "pose-pnp"
    higher_is_better = False
    needs = frozenset({"swap", "landmarks"})

    def __init__(self) -> None:
        self.angle: list[float] = []
        self.axes: list[tuple[float, float, float]] = []

    def update(self, record: EvaluationRecord) -> None:
        if not isinstance(record, SwapRecord):
            return
        if record.target_landmarks is None or record.swap_landmarks is None:
            return
        r_target = head_pose(record.target_landmarks, record.image_size)
        r_swap = head_pose(record.swap_landmarks, record.image_size)
        self.angle.append(rotation_angle(r_target, r_swap))
        e_target, e_swap = euler_angles(r_target), euler_angles(r_swap)
        self.axes.append(tuple(abs((s - t + 180.0) % 360.0 - 180.0) for s, t in zip(e_swap, e_target, strict=True)))

    def compute(self, context: EvaluationContext) -> MetricResult:
        if not self.angle:
            return MetricResult.not_applicable(self.name, "no landmarks (the detector gives none and no predictor ran)")
        angle = describe_values(self.angle)
        axes = np.asarray(self.axes)
        return MetricResult(
            self.name,
            values={"angle_deg": angle, "pitch_abs_deg": float(axes[:, 0].mean()),
                    "yaw_abs_deg": float(axes[:, 1].mean()), "roll_abs_deg": float(axes[:, 2].mean())},
            summary={"pose (solvePnP, °) ↓": f"{angle['mean']:.2f}"},
            notes=["mean angle between the head rotations of swap and target (both photos through the same paste-back, "
                   "the target with its own crop, so resampling is not counted as pose error): cv2.solvePnP of six of the 68 dlib "
                   "landmarks (nose tip, chin, outer eye corners, mouth corners) against a generic 3D face, "
                   "camera focal = longer image side; an offline fallback needing no weights, not any paper's "
                   "protocol (those are pose-styleface, pose-mfim, pose-infoswap) and not comparable to their numbers"],
            samples={"angle_deg": self.angle},
        )


# --- FID ----------------------------------------------------------------------------------

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_FILE}"
INCEPTION_SHA256_PREFIX = "6726825d"
_EXTRACTORS: dict[tuple[str, str], Any] = {}


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


def _check_inception_file(path: Path) -> str | None:
    """A problem with a weights file, or None: it must be torch-fidelity's file (sha256 prefix
    as in its name) and load with ``weights_only=True`` (no pickled code)."""
    if not path.is_file():
        return f"{path}: no such file"
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if not digest.hexdigest().startswith(INCEPTION_SHA256_PREFIX):
        return f"{path} is not {INCEPTION_FILE} (its sha256 does not start with {INCEPTION_SHA256_PREFIX})"
    import torch

    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt or pickled code: refuse before torch-fidelity loads it
        return f"{path} does not load as plain tensors ({_first_line(error)})"
    return None


def load_inception(weights: str | None = None, download: bool = False, device: str = "cpu") -> Any:
    """torch-fidelity's InceptionV3 (TF-ported FID weights, 2048-d pool features), or one
    ``ZooError`` naming everything that is missing and how to get it."""
    problems = []
    extractor_class = None
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import (
            FeatureExtractorInceptionV3 as extractor_class,
        )
    except Exception as error:  # ImportError, or torchvision failing to register its operators
        problems.append(
            f"torch-fidelity, which could not be imported ({_first_line(error)}): pip install torch-fidelity "
            "with a torchvision build matching your torch (CPU or CUDA builds from the PyTorch index, e.g. "
            "pip install torchvision --index-url https://download.pytorch.org/whl/cpu)"
        )
    path: Path | None = None
    if weights:
        path = Path(weights).expanduser()
        problem = _check_inception_file(path)
        if problem:
            problems.append(problem)
    else:
        import torch

        cached = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
        if cached.is_file():
            path = cached
            problem = _check_inception_file(cached)
            if problem:
                problems.append(problem)
        elif not download:
            problems.append(
                f"the InceptionV3 weights {INCEPTION_FILE}, not found in {cached.parent}: download {INCEPTION_URL} "
                "there, or pass --metric-option fid.weights=PATH, or --metric-option fid.download=true to let "
                "torch-fidelity download it"
            )
    if problems:
        raise ZooError("fid needs " + "; and ".join(problems))
    key = (str(path), device)
    if key not in _EXTRACTORS:
        try:
            extractor = extractor_class("inception-v3-compat", ["2048"],
                                        feature_extractor_weights_path=str(path) if path else None)
        except Exception as error:
            raise ZooError(f"fid: torch-fidelity could not load the InceptionV3 weights ({_first_line(error)}); "
                           f"download {INCEPTION_URL} and pass --metric-option fid.weights=PATH") from error
        _EXTRACTORS[key] = extractor.to(device).eval()
    return _EXTRACTORS[key]


class FID(_Base):
    """Frechet Inception Distance between the swapped crops and the original aligned crops
    (sources and targets), with torch-fidelity's InceptionV3 (StyleFace Table 1, MFIM Table 3)."""

    name = "fid"
    higher_is_better = False
    needs = frozenset({"swap"})

    def __init__(self, weights: str | None = None, download: bool = False, batch_size: int = 32, device: str = "cpu"):
        self.extractor = load_inception(weights, bool(download), device)
        self.device = device
        self.batch_size = int(batch_size)
        self.pending: dict[str, list[np.ndarray]] = {"fake": [], "real": []}
        self.features: dict[str, list[np.ndarray]] = {"fake": [], "real": []}
        self.seen_real: set[str] = set()

    def _flush(self, which: str, force: bool = False) -> None:
        import torch

        crops = self.pending[which]
        if not crops or (len(crops) < self.batch_size and not force):
            return
        batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous().to(self.device)
        with torch.inference_mode():
            (features,) = self.extractor(batch)
        self.features[which].append(features.double().cpu().numpy())
        crops.clear()

    def update(self, record: EvaluationRecord) -> None:
        if not isinstance(record, SwapRecord):
            return
        self.pending["fake"].append(record.swap_crop)
        for name, crop in ((record.source, record.source_crop), (record.target, record.target_crop)):
            if name not in self.seen_real:
                self.seen_real.add(name)
                self.pending["real"].append(crop)
        self._flush("fake")
        self._flush("real")

    def compute(self, context: EvaluationContext) -> MetricResult:
        self._flush("fake", force=True)
        self._flush("real", force=True)
        fake = np.concatenate(self.features["fake"]) if self.features["fake"] else np.zeros((0, 2048))
        real = np.concatenate(self.features["real"]) if self.features["real"] else np.zeros((0, 2048))
        if len(fake) < 2 or len(real) < 2:
            return MetricResult.not_applicable(self.name, "FID needs at least two swapped and two original crops")
        value = frechet_distance(fake.mean(0), np.cov(fake, rowvar=False), real.mean(0), np.cov(real, rowvar=False))
        return MetricResult(
            self.name, values={"fid": value, "swapped": len(fake), "originals": len(real)},
            summary={"FID ↓": f"{value:.2f}"},
            notes=[f"FID of {len(fake)} swapped vs {len(real)} original aligned crops, torch-fidelity InceptionV3 "
                   "pool3 (2048-d) features; with fewer than ~2048 images per side it is biased upwards and only "
                   "comparable at equal sample counts"],
        )


# --- builders (MetricSpec.builder) --------------------------------------------------------


def build_identity_similarity() -> IdentitySimilarity:
    return IdentitySimilarity()


def build_identity_distance() -> IdentityDistance:
    return IdentityDistance()


def build_identity_discriminability(ks: Sequence[float] = (1, 2, 3)) -> IdentityDiscriminability:
    return IdentityDiscriminability(ks)


def build_identity_retrieval() -> IdentityRetrieval:
    return IdentityRetrieval()


def build_reconstruction() -> Reconstruction:
    return Reconstruction()


def build_relative_identity() -> RelativeIdentity:
    return RelativeIdentity()


def build_deidentification_tar() -> DeidentificationTAR:
    return DeidentificationTAR()


def build_latency(pipeline_photos: int = 5) -> Latency:
    return Latency(pipeline_photos)


def build_pose_pnp() -> PoseError:
    return PoseError()


def build_fid(weights: str | None = None, download: bool = False, batch_size: int = 32, device: str = "cpu") -> FID:
    return FID(weights, download, batch_size, device)
