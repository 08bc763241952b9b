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
        name="identity-mfim",
        builder=f"{_M}:build_identity_distance",
        higher_is_better=False,
        description="identity distance: L2 distance of the recognizer's (unnormalised) embeddings of swap and "
        "source, mean over the pairs",
        paper="MFIM (ECCV 2022) Tables 2-4 (Identity)",
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
        name="pose-pnp",
        builder=f"{_M}:build_pose_pnp",
        higher_is_better=False,
        description="offline head-pose fallback (no paper's protocol, no weights needed): angle (degrees) between "
        "the head rotations cv2.solvePnP fits to the 68 dlib landmarks of swap and target",
        paper="none (the papers' pose metrics are pose-styleface, pose-mfim, pose-infoswap)",
    ),
    MetricSpec(
        name="pose-styleface",
        builder="zoo_core.evaluate.pose_metrics:build_pose_styleface",
        higher_is_better=False,
        description="head-pose error: L2 distance of Hopenet's (yaw, pitch, roll) in degrees of swap and target "
        "(needs Hopenet's converted weights: pose-styleface.weights=DIR)",
        paper="StyleFace (ECCV 2022) Table 1 (Pose); MFIM (ECCV 2022) Tables 2-4 (Pose-HN)",
    ),
    MetricSpec(
        name="pose-mfim",
        builder="zoo_core.evaluate.flame_metrics:build_pose_mfim",
        higher_is_better=False,
        description="head-pose error: L2 distance of the 3DMM pose parameters (DECA's 6-d FLAME pose) of swap and "
        "target (needs DECA's converted weights: pose-mfim.weights=DIR)",
        paper="MFIM (ECCV 2022) Tables 2-4 (Pose)",
    ),
    MetricSpec(
        name="pose-infoswap",
        builder="zoo_core.evaluate.flame_metrics:build_pose_infoswap",
        higher_is_better=False,
        description="head-pose error: mean squared error of the 3D pose parameters (DECA's global rotation) of swap "
        "and target (needs DECA's converted weights: pose-infoswap.weights=DIR)",
        paper="InfoSwap (CVPR 2021) Table 1 (pose; 3DDFA-V2 in the paper)",
    ),
    MetricSpec(
        name="shape",
        builder="zoo_core.evaluate.flame_metrics:build_shape_error",
        higher_is_better=False,
        description="face-shape error: L2 distance of the FLAME shape parameters of swap and source "
        "(DECA's coarse encoder; needs its converted weights: shape.weights=DIR)",
        paper="StyleFace (ECCV 2022) Table 1 (shape); MFIM (ECCV 2022) Tables 2-4 (Shape)",
    ),
    MetricSpec(
        name="expression",
        builder="zoo_core.evaluate.flame_metrics:build_expression_error",
        higher_is_better=False,
        description="expression error: L2 distance of the FLAME expression parameters of swap and target "
        "(DECA's coarse encoder; needs its converted weights: expression.weights=DIR)",
        paper="StyleFace (ECCV 2022) Table 1 (Exp.); MFIM (ECCV 2022) Tables 2-4 (Expression)",
    ),
    MetricSpec(
        name="expression-infoswap",
        builder="zoo_core.evaluate.flame_metrics:build_expression_infoswap",
        higher_is_better=False,
        description="expression error: mean squared error of the expression parameters (DECA's 50 FLAME "
        "expression parameters) of swap and target (needs DECA's converted weights: expression-infoswap.weights=DIR)",
        paper="InfoSwap (CVPR 2021) Table 1 (expression; 3DDFA-V2 in the paper)",
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

EXTERNAL_WEIGHTS_METRICS = frozenset({"fid", "shape", "expression", "r-shape", "pose-styleface", "pose-mfim",
                                      "pose-infoswap", "expression-infoswap"})
"""Metrics that need weights from elsewhere (torch-fidelity's Inception, DECA's encoder, Hopenet)."""

DEFAULT_METRICS: tuple[str, ...] = tuple(spec.name for spec in METRIC_SPECS if spec.name not in EXTERNAL_WEIGHTS_METRICS)
"""What ``zoo evaluate`` computes without ``--metrics``: every metric that needs no external
model (FID, the 3DMM and Hopenet metrics need weights from elsewhere, so they run only when asked)."""
