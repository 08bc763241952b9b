"""Errors in FLAME parameter space: the distance between the parameters a 3DMM regressor estimates
from the swap and from the source (shape) or the target (expression, pose).

- ``shape`` / ``expression``: L2 distance (StyleFace Table 1, MFIM Tables 2-4);
- ``pose-mfim``: L2 distance of the pose parameters (MFIM Tables 2-4 "Pose");
- ``expression-infoswap`` / ``pose-infoswap``: mean squared error (InfoSwap Table 1, "the mean
  square error between the swapped faces and the corresponding targets").

The papers regress with RingNet (StyleFace, MFIM's evaluation) or 3DDFA-V2 (InfoSwap), whose
weights are not available here; DECA's coarse encoder (the registered ``deca-flame-encoder``
component, converted from ``deca_model.tar``) regresses FLAME shape (100), expression (50) and
pose (6: global rotation and jaw, axis-angle radians) and is used instead. Numbers therefore
compare models evaluated here, not digit for digit with the papers' tables. MFIM *trains* with
DECA's parameters (its L_shape, L_pose, L_exp), so these numbers flatter a model trained that
way; the engine warns (``recognizers.check_supervisors``).

Crops follow DECA's test-time rule (:func:`zoo_core.nets.flame_encoder.deca_crop`) from
dlib's 68 landmarks of each aligned crop (:mod:`zoo_core.evaluate.crop_metrics`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from zoo_core.evaluate.crop_metrics import CropEstimateDistance, Estimate, load_estimator
from zoo_core.faces.detect import Face

COMPONENT = "deca-flame-encoder"
CONVERT_HINT = f"zoo convert {COMPONENT} model=deca_model.tar"
GROUP_NAMES = {"shape": "shape", "exp": "expression", "pose": "pose"}


class FlameParameterDistance(CropEstimateDistance):
    """Distance between one FLAME parameter group (its first ``count`` entries, or all) of the
    swap and of a reference crop."""

    estimator = COMPONENT

    def __init__(self, name: str, group: str, reference: Literal["source", "target"], weights: str | None,
                 device: str = "cpu", reduction: Literal["l2", "mse"] = "l2", count: int | None = None,
                 label: str = "", protocol: str = ""):
        self.network = load_estimator(COMPONENT, weights, device, name, CONVERT_HINT)
        self.device = device
        self.group = group
        self.count = count
        size = count or self.network.config.sizes()[group]
        what = "L2 distance" if reduction == "l2" else "mean squared error (mean over the coordinates)"
        part = " (global rotation, axis-angle)" if group == "pose" and count == 3 else ""
        definition = (f"{what} of the FLAME {GROUP_NAMES[group]} parameters{part} ({size}-d) of swap and "
                      f"{reference}, regressed by DECA's coarse encoder on DECA's landmark crops; {protocol}.")
        super().__init__(name, reference, reduction, label or f"{GROUP_NAMES[group]} ↓", definition)

    def estimate(self, crop: np.ndarray, face: Face) -> Estimate:
        import torch

        from zoo_core.nets.flame_encoder import deca_crop

        config = self.network.config
        image = deca_crop(crop, np.asarray(face.landmarks68, dtype=np.float64), config.image_size, config.crop_scale)
        batch = torch.from_numpy(image).permute(2, 0, 1)[None].to(self.device)
        with torch.inference_mode():
            groups = self.network.encode(batch)
        return {key: value[0].double().cpu().numpy() for key, value in groups.items()}

    def select(self, estimate: Estimate) -> np.ndarray:
        return estimate[self.group][: self.count]


_RINGNET = "the paper regresses with RingNet, so compare models here, not with the paper's digits"


def build_shape_error(weights: str | None = None, device: str = "cpu") -> FlameParameterDistance:
    return FlameParameterDistance("shape", "shape", "source", weights, device,
                                  protocol=f"StyleFace Table 1, MFIM Tables 2-4 ({_RINGNET})")


def build_expression_error(weights: str | None = None, device: str = "cpu") -> FlameParameterDistance:
    return FlameParameterDistance("expression", "exp", "target", weights, device,
                                  protocol=f"StyleFace Table 1, MFIM Tables 2-4 ({_RINGNET})")


def build_pose_mfim(weights: str | None = None, device: str = "cpu") -> FlameParameterDistance:
    return FlameParameterDistance("pose-mfim", "pose", "target", weights, device, label="pose (3DMM) ↓",
                                  protocol=f"MFIM Tables 2-4 'Pose' (DECA's 6-d pose code: global rotation and "
                                  f"jaw; {_RINGNET})")


def build_expression_infoswap(weights: str | None = None, device: str = "cpu") -> FlameParameterDistance:
    return FlameParameterDistance("expression-infoswap", "exp", "target", weights, device, reduction="mse",
                                  label="expression MSE ↓",
                                  protocol="InfoSwap Table 1 'expression' (the paper estimates with 3DDFA-V2, "
                                  "whose 10 expression parameters differ in scale: compare models here)")


def build_pose_infoswap(weights: str | None = None, device: str = "cpu") -> FlameParameterDistance:
    return FlameParameterDistance("pose-infoswap", "pose", "target", weights, device, reduction="mse", count=3,
                                  label="pose MSE ↓",
                                  protocol="InfoSwap Table 1 'pose' (the paper estimates with 3DDFA-V2, whose "
                                  "pose parameterisation differs: compare models here)")
