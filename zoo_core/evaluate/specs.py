"""The core's evaluation metrics as plain data (``MetricSpec``), registered at start-up by
``zoo_core.default_plugins.core``. Torch-free and numpy-free: the builders are ``"module:function"`` strings
resolved only when ``zoo evaluate`` runs."""

from __future__ import annotations

from zoo_core.specs import DEFAULT_RECOGNIZER, MetricSpec

__all__ = ["DEFAULT_METRICS", "DEFAULT_RECOGNIZER", "METRIC_SPECS"]

_M = "zoo_core.evaluate.metrics"

METRIC_SPECS: tuple[MetricSpec, ...] = (
    MetricSpec(
        name="id-similarity",
        builder=f"{_M}:build_identity_similarity",
        higher_is_better=True,
        description="cosine similarity of the recognizer's embeddings: swap-source, swap-target and "
        "source-target, mean and std (headline: swap-source mean)",
        paper="InfoSwap (CVPR 2021) Sec. 4.2, Table 3 and Fig. 5",
    ),
    MetricSpec(
        name="id-discriminability",
        builder=f"{_M}:build_identity_discriminability",
        higher_is_better=True,
        description="share of swaps whose similarity to the target lies in mu_st +- k sigma_st "
        "(k = 1, 2, 3), and whether the swap-source and swap-target intervals (mean +- std) overlap",
        paper="InfoSwap (CVPR 2021) Sec. 3.1 (Fig. 3) and Sec. 4.2",
    ),
    MetricSpec(
        name="id-retrieval",
        builder=f"{_M}:build_identity_retrieval",
        higher_is_better=True,
        description="top-1 identity retrieval (%): the nearest original photo by cosine belongs to "
        "the source identity",
        paper="InfoSwap (CVPR 2021) Table 1, FaceShifter protocol; StyleFace Table 1 (ID)",
    ),
    MetricSpec(
        name="reconstruction",
        builder=f"{_M}:build_reconstruction",
        higher_is_better=False,
        description="swap(x, x) against x on the aligned crop: L1 (headline) and PSNR; also "
        "swap(y, x) with y another photo of x's identity",
        paper="StyleFace (ECCV 2022) Eq. 7 attribute-preserving loss; SimSwap reconstruction",
    ),
    MetricSpec(
        name="r-id",
        builder=f"{_M}:build_relative_identity",
        higher_is_better=False,
        description="relative identity distance R-ID(gb) = D(mix, gb) / (D(mix, gb) + D(mix, lc)) "
        "for ID mixing (models with the 'mix' capability; about 0.5 is a balanced mix)",
        paper="MFIM (ECCV 2022) Sec. 4.4, Table 5",
    ),
    MetricSpec(
        name="r-shape",
        builder="zoo_core.evaluate.mix_shape:build_relative_shape",
        higher_is_better=False,
        description="relative face-shape distance R-Shape(gb) of ID mixing: L2 of FLAME shape parameters "
        "(DECA's coarse encoder; needs its converted weights: r-shape.weights=DIR)",
        paper="MFIM (ECCV 2022) Sec. 4.4, Table 5",
    ),
    MetricSpec(
        name="deid-tar",
        builder=f"{_M}:build_deidentification_tar",
        higher_is_better=False,
        description="true-acceptance rate of (original, de-identified) same-person pairs at the "
        "recognizer's same-person threshold (models with the 'deidentify' capability)",
        paper="StyleFace (ECCV 2022) Sec. 4.3, Table 2",
    ),
    MetricSpec(
        name="latency",
        builder=f"{_M}:build_latency",
        higher_is_better=False,
        description="milliseconds per swap (model call on aligned crops) and per photo (read, "
        "detect, align, swap, paste back)",
        paper="StyleFace (ECCV 2022) Table 1, inference speed",
    ),
    MetricSpec(
        name="pose",
        builder=f"{_M}:build_pose",
        higher_is_better=False,
        description="head-pose error (degrees) between swap and target: cv2.solvePnP of the 68 dlib "
        "landmarks against a generic 3D face, an offline approximation of the 3DMM pose metric",
        paper="InfoSwap Table 1, StyleFace Table 1, MFIM Table 2 (pose)",
    ),
    MetricSpec(
        name="shape",
        builder="zoo_core.evaluate.flame_metrics:build_shape_error",
        higher_is_better=False,
        description="face-shape error: L2 distance of the FLAME shape parameters of swap and source "
        "(DECA's coarse encoder; needs its converted weights: shape.weights=DIR)",
        paper="StyleFace (ECCV 2022) Table 1 (shape); MFIM (ECCV 2022) Tables 2 and 4 (Shape)",
    ),
    MetricSpec(
        name="expression",
        builder="zoo_core.evaluate.flame_metrics:build_expression_error",
        higher_is_better=False,
        description="expression error: L2 distance of the FLAME expression parameters of swap and target "
        "(DECA's coarse encoder; needs its converted weights: expression.weights=DIR)",
        paper="InfoSwap Table 1, StyleFace Table 1, MFIM Tables 2 and 4 (Expression)",
    ),
    MetricSpec(
        name="fid",
        builder=f"{_M}:build_fid",
        higher_is_better=False,
        description="Frechet Inception Distance between swapped and original aligned crops "
        "(torch-fidelity's InceptionV3; needs torch-fidelity, torchvision and the Inception weights)",
        paper="StyleFace (ECCV 2022) Table 1; MFIM (ECCV 2022) Table 3",
    ),
)
"""Every metric the core registers, in report order."""

EXTERNAL_WEIGHTS_METRICS = frozenset({"fid", "shape", "expression", "r-shape"})
"""Metrics that need weights from elsewhere (torch-fidelity's Inception, DECA's encoder)."""

DEFAULT_METRICS: tuple[str, ...] = tuple(spec.name for spec in METRIC_SPECS if spec.name not in EXTERNAL_WEIGHTS_METRICS)
"""What ``zoo evaluate`` computes without ``--metrics``: every metric that needs no external
model (FID, shape and expression need weights from elsewhere, so they run only when asked)."""
