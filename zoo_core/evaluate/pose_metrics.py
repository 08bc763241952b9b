"""Head-pose error with Hopenet (StyleFace Table 1 "Pose", MFIM Tables 2-4 "Pose-HN").

StyleFace (Sec. 4.2): "We estimate the 3D pose by [Hopenet] ... We report the L2 distance between
the regressed coefficients of swapped image and the ground truth"; MFIM uses "L2 distance in the
feature space of a pose estimation model [Hopenet]". Here: per pair, the L2 norm of the
difference of Hopenet's (yaw, pitch, roll) in degrees between swap and target, averaged over the
pairs; the mean absolute difference per angle is reported beside it.

Hopenet runs with the official input rule (:func:`zoo_core.nets.hopenet.hopenet_input`) on the
face box dlib's HOG detector finds on each aligned crop (the official script uses dlib's CNN
detector on whole frames). It needs the converted official weights; it never runs with random
weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo_core.evaluate.crop_metrics import CropEstimateDistance, Estimate, load_estimator
from zoo_core.faces.detect import Face

COMPONENT = "hopenet"
CONVERT_HINT = f"zoo convert {COMPONENT} model=hopenet_robust_alpha1.pkl"


class HopenetPoseError(CropEstimateDistance):
    """L2 distance of Hopenet's Euler angles (degrees) of swap and target."""

    estimator = COMPONENT

    def __init__(self, weights: str | None, device: str = "cpu"):
        self.network = load_estimator(COMPONENT, weights, device, "pose-styleface", CONVERT_HINT)
        self.device = device
        self.axes: list[np.ndarray] = []
        super().__init__(
            "pose-styleface", "target", "l2", "pose (Hopenet, °) ↓",
            "L2 distance of Hopenet's (yaw, pitch, roll) in degrees between swap and target (StyleFace Table 1 "
            "'Pose', MFIM Tables 2-4 'Pose-HN'), official crop rule on dlib HOG boxes of the aligned crops.",
        )

    def estimate(self, crop: np.ndarray, face: Face) -> Estimate:
        import torch

        from zoo_core.nets.hopenet import hopenet_input

        batch = torch.from_numpy(hopenet_input(crop, face.box, self.network.config))[None].to(self.device)
        with torch.inference_mode():
            angles = self.network.angles(batch)
        return {"angles": angles[0].double().cpu().numpy()}

    def select(self, estimate: Estimate) -> np.ndarray:
        return estimate["angles"]

    def add(self, swap: np.ndarray, reference: np.ndarray) -> None:
        super().add(swap, reference)
        self.axes.append(np.abs(swap - reference))

    def extra_values(self) -> dict[str, Any]:
        mean = np.mean(self.axes, axis=0)
        return {"yaw_abs_deg": float(mean[0]), "pitch_abs_deg": float(mean[1]), "roll_abs_deg": float(mean[2])}


def build_pose_styleface(weights: str | None = None, device: str = "cpu") -> HopenetPoseError:
    return HopenetPoseError(weights, device)
