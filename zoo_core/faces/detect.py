"""Face detectors behind one interface: ``detect(rgb) -> list[Face]`` with 5 landmarks.

Backends are registered components (kind "detector"):
- ``dlib-hog`` (default): dlib's HOG detector + 68-point shape predictor from the PyPI packages
  ``dlib-bin`` and ``face-recognition-models`` (offline). The CNN (MMOD) detector is used as a
  fallback when HOG finds nothing (``cnn_fallback``; ~36 s per megapixel on CPU).
- ``scrfd``: insightface SCRFD ONNX models (e.g. ``det_10g.onnx`` of buffalo_l) through
  onnxruntime; needs the weights file, and says which when it is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from zoo_core.errors import ZooError
from zoo_core.nets.dlib_models import face_recognition_models_dir

# 68-point (iBUG 300-W) indices forming the 5 points: eye centres, nose tip, mouth corners.
_LEFT_EYE = slice(36, 42)
_RIGHT_EYE = slice(42, 48)
_NOSE_TIP = 30
_MOUTH_LEFT, _MOUTH_RIGHT = 48, 54


@dataclass(frozen=True)
class Face:
    """One detected face in image pixel coordinates."""

    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    landmarks: np.ndarray  # (5, 2): left eye, right eye, nose, left mouth, right mouth (image sides)
    score: float = 1.0
    landmarks68: np.ndarray | None = field(default=None, repr=False)

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)

    @property
    def prominence(self) -> float:
        """Box area weighted by detection confidence (capped at 1): the order faces are listed
        in, so a weak false positive of similar size never outranks a clear face."""
        return self.area * min(max(self.score, 0.0), 1.0)


@runtime_checkable
class Detector(Protocol):
    name: str

    def detect(self, image: np.ndarray) -> list[Face]:
        """All faces in an ``(H, W, 3) uint8`` RGB image, most prominent (largest) first."""
        ...


def five_from_68(points: np.ndarray) -> np.ndarray:
    """The 5 alignment points from the 68 iBUG landmarks."""
    return np.stack([
        points[_LEFT_EYE].mean(0),
        points[_RIGHT_EYE].mean(0),
        points[_NOSE_TIP],
        points[_MOUTH_LEFT],
        points[_MOUTH_RIGHT],
    ]).astype(np.float32)


def import_dlib(user: str = "the dlib detector") -> Any:
    """The ``dlib`` module, or a one-line error saying that ``user`` needs it and how to install it."""
    try:
        import dlib
    except ImportError as error:
        raise ZooError(f"{user} needs dlib: pip install dlib-bin face-recognition-models") from error
    return dlib


class DlibLandmarker:
    """dlib's 68-point shape predictor (``shape_predictor_68_face_landmarks.dat``) at a face box:
    the one place the detector, the recognizers and the evaluation place landmarks."""

    def __init__(self, user: str = "the dlib landmarker"):
        self.dlib = import_dlib(user)
        self._predictor = self.dlib.shape_predictor(str(face_recognition_models_dir() / "shape_predictor_68_face_landmarks.dat"))

    def shape(self, image: np.ndarray, box: tuple[float, float, float, float]) -> Any:
        """dlib's ``full_object_detection`` of the face in ``box`` (x0, y0, x1, y1) of ``image``."""
        x0, y0, x1, y1 = (round(v) for v in box)
        return self._predictor(np.ascontiguousarray(image), self.dlib.rectangle(x0, y0, x1, y1))

    def points(self, image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """The ``(68, 2)`` iBUG landmarks of the face in ``box``."""
        return np.array([[p.x, p.y] for p in self.shape(image, box).parts()], dtype=np.float64)


class DlibDetector:
    """dlib HOG (or CNN) detection + 68-point landmarks, most prominent face first.

    Detection runs on a copy downscaled to ``max_side`` pixels (HOG cost grows with area);
    with one upsampling the smallest face found is ~40 px at that scale, so raise ``max_side``
    for small faces in large group photos. Landmarks run on the full-resolution image. The
    defaults (640 px, score >= 0) found exactly one face in each of the 104 single-face photos
    of the test set and every face but one of a 25-face scene.
    """

    name = "dlib-hog"

    def __init__(self, upsample: int = 1, max_side: int = 640, cnn_fallback: bool = False, min_score: float = 0.0):
        self.landmarker = DlibLandmarker("the dlib detector")
        dlib = self.landmarker.dlib
        self.upsample = upsample
        self.max_side = max_side
        self.min_score = min_score
        self._hog = dlib.get_frontal_face_detector()
        models = face_recognition_models_dir()
        self._cnn = dlib.cnn_face_detection_model_v1(str(models / "mmod_human_face_detector.dat")) if cnn_fallback else None

    def _boxes(self, image: np.ndarray) -> list[tuple[tuple[float, float, float, float], float]]:
        import cv2

        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else image
        rects, scores, _ = self._hog.run(small, self.upsample, self.min_score)
        found = [((r.left() / scale, r.top() / scale, r.right() / scale, r.bottom() / scale), float(s)) for r, s in zip(rects, scores, strict=True)]
        if not found and self._cnn is not None:
            for d in self._cnn(small, self.upsample):
                r = d.rect
                found.append(((r.left() / scale, r.top() / scale, r.right() / scale, r.bottom() / scale), float(d.confidence)))
        return found

    def detect(self, image: np.ndarray) -> list[Face]:
        image = np.ascontiguousarray(image)
        faces = []
        for box, score in self._boxes(image):
            points = self.landmarker.points(image, box).astype(np.float32)
            faces.append(Face(box, five_from_68(points), score, points))
        return sorted(faces, key=lambda f: f.prominence, reverse=True)


def build_dlib_detector(config: dict[str, Any]) -> DlibDetector:
    return DlibDetector(**config)


class ScrfdDetector:
    """insightface SCRFD (``det_10g.onnx`` / ``det_500m.onnx``) via onnxruntime.

    Decoding follows insightface's ``scrfd.py``: strides 8/16/32, two anchors per location,
    distances to box sides and keypoints in stride units, input (x - 127.5) / 128, NMS 0.4.
    """

    name = "scrfd"
    strides = (8, 16, 32)
    anchors_per_location = 2

    def __init__(self, model_path: str, input_size: int = 640, score_threshold: float = 0.5, nms_threshold: float = 0.4):
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise ZooError(
                f"{path}: SCRFD weights not found; download insightface's buffalo_l pack and point "
                f"model_path at its det_10g.onnx (zoo uses no network at run time)"
            )
        try:
            import onnxruntime
        except ImportError as error:
            raise ZooError("the scrfd detector needs onnxruntime: pip install onnxruntime") from error
        self.session = onnxruntime.InferenceSession(str(path), providers=onnxruntime.get_available_providers())
        self.input_name = self.session.get_inputs()[0].name
        self.input_size = input_size
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold

    def detect(self, image: np.ndarray) -> list[Face]:
        import cv2

        h, w = image.shape[:2]
        scale = self.input_size / max(h, w)
        resized = cv2.resize(image, (round(w * scale), round(h * scale)))
        canvas = np.zeros((self.input_size, self.input_size, 3), dtype=np.float32)
        canvas[: resized.shape[0], : resized.shape[1]] = resized
        blob = ((canvas - 127.5) / 128.0).transpose(2, 0, 1)[None].astype(np.float32)
        outputs = self.session.run(None, {self.input_name: blob})
        boxes, points, scores = decode_scrfd(outputs, self.input_size, self.strides, self.anchors_per_location, self.score_threshold)
        keep = nms(boxes, scores, self.nms_threshold)
        faces = [Face(tuple(float(v) for v in boxes[i] / scale), (points[i] / scale).astype(np.float32), float(scores[i])) for i in keep]
        return sorted(faces, key=lambda f: f.prominence, reverse=True)


def anchor_centers(size: int, stride: int, per_location: int) -> np.ndarray:
    """Anchor centres (x, y) of a ``size / stride`` feature map, ``per_location`` each."""
    n = size // stride
    ys, xs = np.mgrid[:n, :n]
    centers = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
    return np.repeat(centers, per_location, axis=0)


def decode_scrfd(outputs: list[np.ndarray], size: int, strides: tuple[int, ...], per_location: int, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SCRFD's outputs (scores per stride, then box distances, then keypoint distances)."""
    n = len(strides)
    all_boxes, all_points, all_scores = [], [], []
    for i, stride in enumerate(strides):
        scores = outputs[i].reshape(-1)
        distances = outputs[i + n].reshape(-1, 4) * stride
        keypoints = outputs[i + 2 * n].reshape(-1, 10) * stride
        centers = anchor_centers(size, stride, per_location)
        selected = scores >= threshold
        c = centers[selected]
        all_boxes.append(np.hstack([c - distances[selected][:, :2], c + distances[selected][:, 2:]]))
        all_points.append(c[:, None, :] + keypoints[selected].reshape(-1, 5, 2))
        all_scores.append(scores[selected])
    return np.concatenate(all_boxes), np.concatenate(all_points), np.concatenate(all_scores)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Greedy non-maximum suppression; indices of kept boxes, best first."""
    order = list(np.argsort(-scores))
    keep = []
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order:
        best = order.pop(0)
        keep.append(int(best))
        if not order:
            break
        rest = np.array(order)
        x0 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y0 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x1 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y1 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        iou = inter / (areas[best] + areas[rest] - inter)
        order = [int(j) for j, o in zip(rest, iou, strict=True) if o <= threshold]
    return keep


def build_scrfd_detector(config: dict[str, Any]) -> ScrfdDetector:
    return ScrfdDetector(**config)


def create_detector(name: str = "dlib-hog", **overrides: Any) -> Detector:
    """Build a registered detector component."""
    from zoo_core.registry import create_component, get_component_spec

    spec = get_component_spec(name)
    if spec.kind != "detector":
        raise ZooError(f"component {name!r} is a {spec.kind}, not a face detector")
    return create_component(name, **overrides)
