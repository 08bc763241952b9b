"""The evaluation engine: models x pair set -> records -> registered metrics -> one report.

Per evaluation, every photo is read, detected and described once (``PhotoCache``, keyed by
path); per model, the engine runs only what the selected metrics need: cross-identity swaps
(pasted back into the target photo and described at the target's face box), swap(x, x)
reconstructions, ID mixing, de-identification and whole-photo timings.
"""

from __future__ import annotations

import inspect
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from zoo_core.devices import check_device
from zoo_core.errors import InputError, PluginError, ZooError
from zoo_core.evaluate.metrics import (
    DeidentifyRecord,
    EvaluationContext,
    EvaluationRecord,
    MetricResult,
    MixRecord,
    PipelineRecord,
    ReconstructionRecord,
    SwapRecord,
)
from zoo_core.evaluate.pairs import Pair, PairSet
from zoo_core.evaluate.recognizers import (
    DEFAULT_RECOGNIZER,
    EvaluationRecognizer,
    check_recognizer,
    check_recognizer_kind,
    check_supervisors,
    load_recognizer,
)
from zoo_core.evaluate.specs import DEFAULT_METRICS
from zoo_core.faces.align import AlignedFace
from zoo_core.faces.detect import Detector, DlibLandmarker, Face, create_detector
from zoo_core.faces.tensors import check_output, crops_to_tensor, tensor_to_crops

# --- models -------------------------------------------------------------------------------


@dataclass
class ModelEntry:
    """One model to evaluate, with the label used in the report and what its weights are."""

    label: str
    model: Any
    weights: str


def load_model(name_or_path: str, device: str = "cpu", random_init: bool = False, seed: int = 0,
               local_files_only: bool = False, recognizer: str = DEFAULT_RECOGNIZER) -> ModelEntry:
    """Build (``random_init``) or load a model; refuses a recognizer equal to its identity
    encoder before anything heavy happens when the name is a registry name."""
    from zoo_core import factory, registry

    if registry.is_model(name_or_path):
        check_recognizer(recognizer, registry.get_model_spec(name_or_path))
    loaded = factory.load_model(name_or_path, device=device, random_init=random_init, seed=seed,
                                local_files_only=local_files_only)
    check_recognizer(recognizer, loaded.model.spec)
    return ModelEntry(name_or_path, loaded.model, loaded.weights)


# --- photos -------------------------------------------------------------------------------


@dataclass
class Photo:
    """One photo of the pair set: its most prominent face, or why it has none."""

    path: Path
    name: str
    size: tuple[int, int] = (0, 0)
    face: Face | None = None
    problem: str | None = None


class PhotoCache:
    """Reads, detects, describes and aligns each photo once per evaluation (keyed by path)."""

    def __init__(self, pairs: PairSet, detector: Detector, recognizer: EvaluationRecognizer | None,
                 keep_images: int = 8):
        self.pairs = pairs
        self.detector = detector
        self.recognizer = recognizer
        self._landmarker: DlibLandmarker | None = None
        self._photos: dict[Path, Photo] = {}
        self._embeddings: dict[Path, np.ndarray] = {}
        self._landmarks: dict[Path, np.ndarray] = {}
        self._crops: dict[tuple[Path, str, int], AlignedFace] = {}
        self._images: OrderedDict[Path, np.ndarray] = OrderedDict()
        self._keep = keep_images

    def image(self, path: Path) -> np.ndarray:
        if path in self._images:
            self._images.move_to_end(path)
            return self._images[path]
        from zoo_core.faces.io import read_image

        rgb, _ = read_image(path)
        self._images[path] = rgb
        while len(self._images) > self._keep:
            self._images.popitem(last=False)
        return rgb

    def photo(self, path: Path) -> Photo:
        if path not in self._photos:
            photo = Photo(path, self.pairs.name(path))
            try:
                rgb = self.image(path)
            except InputError as error:
                photo.problem = f"unreadable ({error})"
            else:
                photo.size = (rgb.shape[1], rgb.shape[0])
                faces = self.detector.detect(rgb)
                if faces:
                    photo.face = faces[0]
                else:
                    photo.problem = "no face found"
            self._photos[path] = photo
        return self._photos[path]

    def usable(self, path: Path) -> bool:
        return self.photo(path).face is not None

    def embedding(self, path: Path) -> np.ndarray:
        if path not in self._embeddings:
            assert self.recognizer is not None
            self._embeddings[path] = self.recognizer.describe(self.image(path), self._face(path))
        return self._embeddings[path]

    def landmarks(self, image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """dlib's 68 landmarks of the face in ``box`` (the predictor loaded on first use)."""
        if self._landmarker is None:
            self._landmarker = DlibLandmarker("the 68-point landmarks of the evaluation")
        return self._landmarker.points(image, box)

    def crop(self, path: Path, swapper: Any) -> AlignedFace:
        key = (path, swapper.template.name, swapper.size)
        if key not in self._crops:
            self._crops[key] = swapper.align(self.image(path), self._face(path))
        return self._crops[key]

    def _face(self, path: Path) -> Face:
        face = self.photo(path).face
        if face is None:
            raise ZooError(f"{path}: no face")  # callers filter photos without faces first
        return face

    def problems(self) -> dict[str, str]:
        return {photo.name: photo.problem for photo in self._photos.values() if photo.problem}


# --- reports ------------------------------------------------------------------------------


@dataclass
class ModelReport:
    """Every metric's result for one model."""

    label: str
    model: str
    weights: str
    capabilities: list[str]
    identity_encoder: str | None
    results: dict[str, MetricResult]
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "model": self.model, "weights": self.weights,
                "capabilities": self.capabilities, "identity_encoder": self.identity_encoder,
                "seconds": round(self.seconds, 3), "metrics": {k: v.to_json() for k, v in self.results.items()}}


@dataclass
class EvaluationReport:
    """The comparison of every model on one pair set (``report.write_report`` writes it)."""

    setup: dict[str, Any]
    models: list[ModelReport] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"setup": dict(self.setup), "models": [m.to_json() for m in self.models]}


# --- the engine ---------------------------------------------------------------------------


def parse_metric_names(text: str | Sequence[str] | None) -> list[str]:
    """``"a,b"`` or a list -> names; ``None``/empty -> the defaults; ``"all"`` -> every registered."""
    from zoo_core.registry import get_registry

    if text is None or (isinstance(text, str) and not text.strip()):
        return list(DEFAULT_METRICS)
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if names == ["all"]:
        registered = get_registry().metrics
        return [*[n for n in DEFAULT_METRICS if n in registered], *sorted(n for n in registered if n not in DEFAULT_METRICS)]
    registry = get_registry()
    unknown = [n for n in names if n not in registry.metrics]
    if unknown:
        known = ", ".join(sorted(registry.metrics))
        raise ZooError(f"unknown metric(s) {', '.join(map(repr, unknown))}; known: {known} (or 'all')")
    return list(dict.fromkeys(names))


class Evaluator:
    """Every selected metric for every model over one pair set (one comparison table, as in the papers)."""

    def __init__(self, metrics: str | Sequence[str] | None = None, recognizer: str = DEFAULT_RECOGNIZER,
                 detector: str | Detector = "dlib-hog", device: str = "cpu", seed: int = 0,
                 metric_options: dict[str, dict[str, Any]] | None = None, progress: bool = True):
        from zoo_core.registry import get_registry

        self.metric_names = parse_metric_names(metrics)
        self.specs = {name: get_registry().lookup("metrics", name) for name in self.metric_names}
        self.metric_options = {k: dict(v) for k, v in (metric_options or {}).items()}
        stray = sorted(set(self.metric_options) - set(self.metric_names))
        if stray:
            raise ZooError(f"options given for metric(s) not selected: {', '.join(stray)}")
        check_recognizer_kind(recognizer)
        self.recognizer_name = recognizer
        self.detector_arg = detector
        self.device = check_device(device)
        self.seed = seed
        self.progress = progress
        for name in self.metric_names:  # fail on bad options or missing requirements before any work
            self._build(name)
        self._recognizer: EvaluationRecognizer | None = None
        self._detector: Detector | None = None

    # --- building ---

    def _build(self, name: str) -> Any:
        from zoo_core.evaluate.metrics import Metric
        from zoo_core.registry import resolve

        spec = self.specs[name]
        builder = resolve(spec.builder, f"metric {name!r}")
        options = dict(self.metric_options.get(name, {}))
        parameters = inspect.signature(builder).parameters
        if "device" in parameters and "device" not in options:
            options["device"] = self.device
        try:
            inspect.signature(builder).bind(**options)
        except TypeError as error:
            known = ", ".join(p for p in parameters if p != "device") or "none"
            raise ZooError(f"metric {name!r}: bad options {sorted(options)} ({error}); its options: {known}") from None
        try:
            metric = builder(**options)
        except (TypeError, ValueError) as error:
            raise ZooError(f"metric {name!r}: {error}") from error
        if not isinstance(metric, Metric):
            raise PluginError(f"builder {spec.builder!r} of metric {name!r} returned {type(metric).__name__}, "
                              "which does not implement zoo_core.evaluate.metrics.Metric")
        return metric

    @property
    def recognizer(self) -> EvaluationRecognizer:
        if self._recognizer is None:
            self._recognizer = load_recognizer(self.recognizer_name)
        return self._recognizer

    @property
    def detector(self) -> Detector:
        if self._detector is None:
            self._detector = create_detector(self.detector_arg) if isinstance(self.detector_arg, str) else self.detector_arg
        return self._detector

    def _bar(self, items: Iterable[Any], total: int, desc: str) -> Iterable[Any]:
        from tqdm.auto import tqdm

        return tqdm(items, total=total, desc=desc, unit="pair", disable=not self.progress, leave=False)

    # --- evaluation ---

    def evaluate(self, models: Sequence[Any], pairs: PairSet, cache: PhotoCache | None = None) -> EvaluationReport:
        """Evaluate every model (``ModelEntry`` or a built model with a ``spec``) on ``pairs``;
        ``cache``: a ``PhotoCache`` of the same pair set to reuse across evaluations."""
        from zoo_core import __version__

        entries = [m if isinstance(m, ModelEntry) else ModelEntry(m.spec.name, m, "in-memory") for m in models]
        if not entries:
            raise ZooError("no model to evaluate")
        seen: dict[str, int] = {}
        for entry in entries:  # one row per model: repeated labels get a number
            seen[entry.label] = seen.get(entry.label, 0) + 1
            if seen[entry.label] > 1:
                entry.label = f"{entry.label} #{seen[entry.label]}"
        for entry in entries:
            check_recognizer(self.recognizer_name, entry.model.spec)
        if not pairs.pairs:
            raise ZooError(f"no pairs to evaluate ({pairs.origin or 'empty pair set'})")
        if cache is not None and cache.pairs is not pairs:
            raise ZooError("the photo cache belongs to another pair set")
        photos = cache or PhotoCache(pairs, self.detector, None)
        for path in self._bar(pairs.photos(), len(pairs.photos()), "detecting faces"):
            photos.photo(path)
        usable_pairs = [p for p in pairs.pairs if photos.usable(p.source) and photos.usable(p.target)]
        usable_same = [p for p in pairs.same_identity if photos.usable(p.source) and photos.usable(p.target)]
        if not usable_pairs:
            raise ZooError(f"no usable pairs: every one of the {len(pairs.pairs)} pairs has a photo without a face "
                           f"({', '.join(sorted(photos.problems())[:3])}...)")
        built = {e.label: {n: self._build(n) for n in self.metric_names} for e in entries}
        for entry in entries:
            check_supervisors(built[entry.label], entry.model.spec)
        needs_identity = any("identity" in m.needs for metrics in built.values() for m in metrics.values())
        gallery = [(path, identity) for path, identity in pairs.gallery if photos.usable(path)]
        gallery_embeddings = None
        if needs_identity:
            if photos.recognizer is None:
                photos.recognizer = self.recognizer
            elif photos.recognizer.name != self.recognizer_name:
                raise ZooError(f"the photo cache describes faces with {photos.recognizer.name!r}, "
                               f"not {self.recognizer_name!r}")
            for path in self._bar(pairs.photos(), len(pairs.photos()), "describing faces"):
                if photos.usable(path):
                    photos.embedding(path)
            if gallery:
                gallery_embeddings = np.stack([photos.embedding(path) for path, _ in gallery])
        problems = photos.problems()
        rule = photos.recognizer.rule if needs_identity and photos.recognizer else None
        setup = {
            "zoo_core_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "pairs_from": pairs.origin,
            "seed": self.seed if pairs.seed is None else pairs.seed,
            "device": self.device,
            "recognizer": self.recognizer_name,
            "same_person_rule": rule.describe() if rule else None,
            "detector": getattr(self.detector, "name", str(self.detector_arg)),
            "metrics": self.metric_names,
            "metric_options": self.metric_options,
            "pairs": len(pairs.pairs),
            "pairs_evaluated": len(usable_pairs),
            "pairs_skipped": len(pairs.pairs) - len(usable_pairs),
            "same_identity_pairs": len(usable_same),
            "same_identity_pairs_skipped": len(pairs.same_identity) - len(usable_same),
            "photos": len(pairs.photos()),
            "photos_without_face": sorted(n for n, p in problems.items() if p == "no face found"),
            "photos_unreadable": sorted(n for n, p in problems.items() if p != "no face found"),
            "gallery": len(gallery),
            "identities": len({identity for _, identity in gallery}),
        }
        report = EvaluationReport(setup)
        context_gallery = {
            "rule": rule,
            "gallery_embeddings": gallery_embeddings,
            "gallery_ids": tuple(identity for _, identity in gallery),
            "gallery_names": tuple(pairs.name(path) for path, _ in gallery),
        }
        for entry in entries:
            report.models.append(self._evaluate_model(entry, built[entry.label], photos, usable_pairs, usable_same,
                                                      context_gallery))
        return report

    def _evaluate_model(self, entry: ModelEntry, metrics: dict[str, Any], photos: PhotoCache, pairs: list[Pair],
                        same: list[Pair], gallery: dict[str, Any]) -> ModelReport:
        from zoo_core.faces.swapper import FaceSwapper

        started = time.perf_counter()
        spec = entry.model.spec
        capabilities = frozenset(spec.capabilities)
        results: dict[str, MetricResult] = {}
        active = {}
        for name, metric in metrics.items():
            if metric.capability and metric.capability not in capabilities:
                results[name] = MetricResult.not_applicable(
                    name, f"{spec.name} lacks the {metric.capability!r} capability")
            else:
                active[name] = metric
        needs = frozenset().union(*(m.needs for m in active.values())) if active else frozenset()

        def emit(record: EvaluationRecord) -> None:
            for metric in active.values():
                if record.kind in metric.needs:
                    metric.update(record)

        swapper = FaceSwapper(entry.model, detector=self.detector, device=self.device)
        run = _ModelRun(self, entry, swapper, photos, needs, emit)
        if "swap" in needs:
            run.swaps(pairs)
        if "reconstruction" in needs:
            run.reconstructions(pairs, same)
        if "mix" in needs:
            run.mixes(pairs)
        if "deidentify" in needs:
            run.deidentifications(same)
        if "pipeline" in needs:
            count = max((getattr(m, "pipeline_photos", 0) for m in active.values() if "pipeline" in m.needs), default=0)
            run.pipeline(pairs[:count])
        context = EvaluationContext(
            model=entry.label, capabilities=capabilities, recognizer=self.recognizer_name,
            device=self.device, **gallery)
        for name, metric in active.items():
            results[name] = metric.compute(context)
        ordered = {name: results[name] for name in self.metric_names}
        return ModelReport(entry.label, spec.name, entry.weights, sorted(capabilities), spec.identity_encoder,
                           ordered, time.perf_counter() - started)


class _ModelRun:
    """The model calls of one model's evaluation, each producing records for the metrics."""

    def __init__(self, evaluator: Evaluator, entry: ModelEntry, swapper: Any, photos: PhotoCache,
                 needs: frozenset[str], emit: Callable[[EvaluationRecord], None]):
        self.ev = evaluator
        self.entry = entry
        self.model = entry.model
        self.swapper = swapper
        self.photos = photos
        self.needs = needs
        self.emit = emit
        self.device = swapper.device
        self.swap_embeddings: dict[tuple[Path, Path], np.ndarray] = {}
        self.swap_crops: dict[tuple[Path, Path], np.ndarray] = {}
        self.reference_landmarks: dict[Path, np.ndarray] = {}

    # --- calls ---

    def _sync(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _call(self, method: str, *crops: np.ndarray, seed: int, **kwargs: Any) -> tuple[np.ndarray, float]:
        """One model call on aligned uint8 crops (batch 1), seeded; returns the crop and seconds."""
        import torch

        torch.manual_seed(seed)
        with torch.inference_mode():
            tensors = [crops_to_tensor([c], self.device) for c in crops]
            self._sync()
            start = time.perf_counter()
            out = getattr(self.model, method)(*tensors, **kwargs)
            self._sync()
            seconds = time.perf_counter() - start
        return tensor_to_crops(check_output(self.entry.label, method, out, tensors[-1]))[0], seconds

    def _pasted(self, target: Path, crop: np.ndarray) -> np.ndarray:
        return self.swapper.blend(self.photos.image(target), [self.photos.crop(target, self.swapper)], [crop])

    def _describe_pasted(self, target: Path, crop: np.ndarray) -> np.ndarray:
        face = self.photos.photo(target).face
        assert face is not None
        return self.photos.recognizer.describe(self._pasted(target, crop), face)

    def _reference_landmarks(self, target: Path, crop: np.ndarray) -> np.ndarray:
        """The target's 68 landmarks after the same paste-back with its own crop, so the
        resampling of the paste-back is not counted as pose error."""
        if target not in self.reference_landmarks:
            face = self.photos.photo(target).face
            assert face is not None
            self.reference_landmarks[target] = self.photos.landmarks(self._pasted(target, crop), face.box)
        return self.reference_landmarks[target]

    def _seed(self, index: int) -> int:
        return self.ev.seed + index

    # --- record producers ---

    def swaps(self, pairs: list[Pair]) -> None:
        first = pairs[0]  # warm-up call: lazy initialisation must not count as latency
        self._call("swap", self.photos.crop(first.source, self.swapper).crop,
                   self.photos.crop(first.target, self.swapper).crop, seed=self._seed(0))
        identity, landmarks = "identity" in self.needs, "landmarks" in self.needs
        for index, pair in enumerate(self.ev._bar(pairs, len(pairs), f"{self.entry.label}: swaps")):
            source = self.photos.crop(pair.source, self.swapper).crop
            target = self.photos.crop(pair.target, self.swapper).crop
            swapped, seconds = self._call("swap", source, target, seed=self._seed(index))
            if "mix" in self.needs:  # ID-mixing records reuse the plain swaps' crops
                self.swap_crops[(pair.source, pair.target)] = swapped
            photo = self.photos.photo(pair.target)
            record = SwapRecord(index, self.photos.pairs.name(pair.source), photo.name, pair.source_id, pair.target_id,
                                source, target, swapped, seconds, photo.size)
            if identity or landmarks:
                pasted = self._pasted(pair.target, swapped)
                assert photo.face is not None
                if identity:
                    record.source_embedding = self.photos.embedding(pair.source)
                    record.target_embedding = self.photos.embedding(pair.target)
                    record.swap_embedding = self.photos.recognizer.describe(pasted, photo.face)
                    self.swap_embeddings[(pair.source, pair.target)] = record.swap_embedding
                if landmarks:
                    record.target_landmarks = self._reference_landmarks(pair.target, target)
                    record.swap_landmarks = self.photos.landmarks(pasted, photo.face.box)
            self.emit(record)

    def reconstructions(self, pairs: list[Pair], same: list[Pair]) -> None:
        targets = list(dict.fromkeys(p.target for p in pairs))
        jobs = [(t, t, True) for t in targets] + [(p.source, p.target, False) for p in same]
        for index, (source, target, self_swap) in enumerate(self.ev._bar(jobs, len(jobs), f"{self.entry.label}: swap(x, x)")):
            original = self.photos.crop(target, self.swapper).crop
            out, _ = self._call("swap", self.photos.crop(source, self.swapper).crop, original, seed=self._seed(index))
            self.emit(ReconstructionRecord(self.photos.pairs.name(target), self.photos.pairs.name(source), self_swap,
                                           original, out))

    def _swap_embedding(self, source: Path, target: Path, index: int) -> np.ndarray:
        key = (source, target)
        if key not in self.swap_embeddings:
            out, _ = self._call("swap", self.photos.crop(source, self.swapper).crop,
                                self.photos.crop(target, self.swapper).crop, seed=self._seed(index))
            self.swap_crops[key] = out
            self.swap_embeddings[key] = self._describe_pasted(target, out)
        return self.swap_embeddings[key]

    def mixes(self, pairs: list[Pair]) -> None:
        """MFIM Sec. 4.4 triplets: each pair's source is the global source, a local source of a
        third identity is drawn by seed among the other pairs' sources."""
        rng = random.Random(self.ev.seed)
        sources = list(dict.fromkeys((p.source, p.source_id) for p in pairs))
        for index, pair in enumerate(self.ev._bar(pairs, len(pairs), f"{self.entry.label}: ID mixing")):
            candidates = [(path, identity) for path, identity in sources if path not in (pair.source, pair.target)
                          and (identity is None or identity not in (pair.source_id, pair.target_id))]
            if not candidates:
                continue
            local, _ = rng.choice(candidates)
            crops = [self.photos.crop(p, self.swapper).crop for p in (pair.source, local, pair.target)]
            mixed, _ = self._call("mix", *crops, seed=self._seed(index))
            self.emit(MixRecord(
                self.photos.pairs.name(pair.target), self.photos.pairs.name(pair.source), self.photos.pairs.name(local),
                self.photos.embedding(pair.source), self.photos.embedding(local),
                self._describe_pasted(pair.target, mixed),
                self._swap_embedding(pair.source, pair.target, index),
                self._swap_embedding(local, pair.target, index),
                global_crop=crops[0], local_crop=crops[1], target_crop=crops[2], mix_crop=mixed,
                global_swap_crop=self.swap_crops.get((pair.source, pair.target)),
                local_swap_crop=self.swap_crops.get((local, pair.target)),
            ))

    def deidentifications(self, same: list[Pair]) -> None:
        """StyleFace Sec. 4.3: de-identify the second photo of each same-person pair."""
        import torch

        for index, pair in enumerate(self.ev._bar(same, len(same), f"{self.entry.label}: de-identification")):
            generator = torch.Generator(device=self.device).manual_seed(self._seed(index))
            crop = self.photos.crop(pair.target, self.swapper).crop
            anonymized, _ = self._call("deidentify", crop, seed=self._seed(index), generator=generator)
            self.emit(DeidentifyRecord(
                self.photos.pairs.name(pair.source), self.photos.pairs.name(pair.target),
                self.photos.embedding(pair.source), self.photos.embedding(pair.target),
                self._describe_pasted(pair.target, anonymized),
            ))

    def pipeline(self, pairs: list[Pair]) -> None:
        """Whole-photo timings: FaceSwapper.swap_image from the files (nothing cached)."""
        for pair in self.ev._bar(pairs, len(pairs), f"{self.entry.label}: whole photos"):
            start = time.perf_counter()
            self.swapper.swap_image(pair.source, pair.target)
            self._sync()
            self.emit(PipelineRecord(self.photos.pairs.name(pair.source), self.photos.pairs.name(pair.target),
                                     time.perf_counter() - start))


def evaluate(models: Sequence[str | Any], pairs: PairSet, metrics: str | Sequence[str] | None = None,
             recognizer: str = DEFAULT_RECOGNIZER, device: str = "cpu", seed: int = 0, random_init: bool = False,
             metric_options: dict[str, dict[str, Any]] | None = None, detector: str = "dlib-hog",
             local_files_only: bool = False, progress: bool = True) -> EvaluationReport:
    """Python entry point of ``zoo evaluate``: names, paths or built models -> report."""
    evaluator = Evaluator(metrics, recognizer, detector, device, seed, metric_options, progress)
    entries = [load_model(m, device, random_init, seed, local_files_only, recognizer) if isinstance(m, str) else m
               for m in models]
    return evaluator.evaluate(entries, pairs)
