"""Alignment templates as data: normalised 5-point references (x, y in [0, 1] of the crop side).

Point order everywhere: image-left eye, image-right eye, nose tip, image-left mouth corner,
image-right mouth corner (insightface's order). A template may hold several poses; alignment
then picks the pose with the smallest residual (SimSwap's ``mode='None'``). Registered as
``ComponentSpec(kind="template")`` by the core, so plugins can register more.
"""

from __future__ import annotations

from typing import Any

# insightface arcface_dst for 112x112 crops.
ARCFACE_112 = [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]

# SimSwap insightface_func/utils/face_align_ffhqandnewarc.py, mode='None': five poses (profile
# left, left, frontal, right, profile right) in 112 px units, scaled by crop_size / 112.
SIMSWAP_POSES_112 = [
    [[51.642, 50.115], [57.617, 49.990], [35.740, 69.007], [51.157, 89.050], [57.025, 89.702]],
    [[45.031, 50.118], [65.568, 50.872], [39.677, 68.111], [45.177, 86.190], [64.246, 86.758]],
    [[39.730, 51.138], [72.270, 51.138], [56.000, 68.493], [42.463, 87.010], [69.537, 87.010]],
    [[46.845, 50.872], [67.382, 50.118], [72.737, 68.111], [48.167, 86.758], [67.236, 86.190]],
    [[54.796, 49.990], [60.771, 50.115], [76.673, 69.007], [55.388, 89.702], [61.257, 89.050]],
]

# The FFHQ alignment reference for 512 px crops, as SimSwap's ffhq mode uses it.
FFHQ_512 = [[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935], [201.26117, 371.41043], [313.08905, 371.15118]]


def _infoswap_square() -> list[list[float]]:
    # InfoSwap preprocess/mtcnn_pytorch align_trans.py: the square 112 reference (arcface) shrunk
    # by 0.85 about the centre, then scaled to the crop size (512 for infoswap-512).
    return [[((x - 56.0) * 0.85 + 56.0), ((y - 56.0) * 0.85 + 56.0)] for x, y in ARCFACE_112]


def _normalise(poses: list[list[list[float]]], side: float) -> list[list[list[float]]]:
    return [[[x / side, y / side] for x, y in pose] for pose in poses]


TEMPLATES: dict[str, dict[str, Any]] = {
    "arcface-112": {
        "points": _normalise([ARCFACE_112], 112.0),
        "description": "insightface arcface_112 reference (recognition crops, insightface iresnet)",
    },
    "simswap-224": {
        "points": _normalise(SIMSWAP_POSES_112, 112.0),
        "description": "SimSwap's 224 template: insightface's five-pose reference (official mode='None')",
    },
    "ffhq": {
        "points": _normalise([FFHQ_512], 512.0),
        "description": "FFHQ alignment (SimSwap 512, ILVR, StyleGAN families at 256/1024)",
    },
    "infoswap-512": {
        "points": _normalise([_infoswap_square()], 112.0),
        "description": "InfoSwap's square 112 reference shrunk by 0.85 and scaled to 512",
    },
}
