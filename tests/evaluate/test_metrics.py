"""Each metric's definition on hand-made embeddings, crops and landmarks (no faces, no model)."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import zoo_core.evaluate.metrics as m
from zoo_core.errors import ZooError
from zoo_core.evaluate.recognizers import SamePersonRule, cosine_matrix, cosine_rows

CROP = np.zeros((8, 8, 3), dtype=np.uint8)


def unit(angle_deg: float) -> np.ndarray:
    return np.array([math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))])


def swap_record(index, source, target, swap, source_id="a", target_id="b", seconds=0.01):
    return m.SwapRecord(index, f"s{index}", f"t{index}", source_id, target_id, CROP, CROP, CROP, seconds, (8, 8),
                        source_embedding=np.asarray(source, float), target_embedding=np.asarray(target, float),
                        swap_embedding=np.asarray(swap, float))


def context(**kwargs):
    return m.EvaluationContext(model="m", capabilities=frozenset({"swap"}), recognizer="dlib-resnet", rule=None, **kwargs)


def test_describe_values_uses_the_sample_std():
    stats = m.describe_values([1.0, 2.0, 3.0, 4.0])
    assert stats["n"] == 4 and stats["mean"] == 2.5 and stats["median"] == 2.5
    assert stats["std"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert m.describe_values([5.0])["std"] == 0.0 and m.describe_values([])["n"] == 0


def test_ksigma_shares():
    values = [0.1, 0.2, 0.35, 0.5, 0.9]
    shares = m.ksigma_shares(values, mu_st=0.2, sigma_st=0.1)
    assert shares == {"1": 0.4, "2": 0.6, "3": 0.8}  # 0.5 lies exactly on mu + 3 sigma: inside
    assert m.ksigma_shares(values, 0.2, 0.1, ks=(0.5,)) == {"0.5": 0.2}


def test_intervals_overlap():
    assert m.intervals_overlap((0.0, 1.0), (0.5, 2.0)) and m.intervals_overlap((0.5, 2.0), (0.0, 1.0))
    assert m.intervals_overlap((0.0, 1.0), (1.0, 2.0))  # closed intervals touch
    assert not m.intervals_overlap((0.0, 1.0), (1.01, 2.0))


def test_similarity_and_discriminability_from_angles():
    # source at 0 deg, target at 80 deg: cos(source, target) = cos(80) for every pair; the swaps sit
    # at 10 and 20 deg: cos(swap, source) = cos 10 / cos 20, cos(swap, target) = cos 70 / cos 60.
    similarity, discriminability = m.build_identity_similarity(), m.build_identity_discriminability()
    for i, angle in enumerate([10, 20, 10, 20]):
        record = swap_record(i, unit(0), unit(80 + (i % 2) * 2), unit(angle))
        similarity.update(record)
        discriminability.update(record)
    sim = similarity.compute(context())
    assert sim.values["swap_source"]["mean"] == pytest.approx(np.mean([math.cos(math.radians(a)) for a in (10, 20)]))
    expected_st = [math.cos(math.radians(a)) for a in (80, 82, 80, 82)]
    assert sim.values["source_target"]["mean"] == pytest.approx(np.mean(expected_st))
    assert sim.values["source_target"]["std"] == pytest.approx(np.std(expected_st, ddof=1))
    assert sim.summary["cos(swap, source) ↑"].startswith(f"{np.mean([math.cos(math.radians(a)) for a in (10, 20)]):.3f} ± ")
    dis = discriminability.compute(context()).values
    # cos(swap, target) = cos 70 = 0.342 or cos 62 = 0.469, far above mu_st = 0.156 +- 0.017: never inside
    assert dis["within_k_sigma"] == {"1": 0.0, "2": 0.0, "3": 0.0}
    assert not dis["intervals_overlap"] and dis["discriminative"] and dis["gap"] > 0.4


def test_identity_distance_is_the_l2_to_the_source():
    metric = m.build_identity_distance()
    assert metric.name == "identity-mfim" and not metric.higher_is_better
    # swap (3, 4) with source (0, 0) and target (3, 4): distance 5 to the source, 0 to the target
    metric.update(swap_record(0, [0.0, 0.0], [3.0, 4.0], [3.0, 4.0]))
    # unnormalised embeddings: (2, 0) and (1, 0) point the same way but are 1 apart
    metric.update(swap_record(1, [1.0, 0.0], [0.0, 1.0], [2.0, 0.0]))
    result = metric.compute(context())
    assert result.samples["l2"] == pytest.approx([5.0, 1.0])
    assert result.values["l2"]["mean"] == pytest.approx(3.0) and result.summary["identity L2 ↓"] == "3.000"
    assert not m.build_identity_distance().compute(context()).applicable


def test_discriminability_detects_overlap():
    metric = m.build_identity_discriminability()
    # swaps halfway between source and target (the angle bisector of InfoSwap Fig. 3): equally similar
    for i in range(4):
        metric.update(swap_record(i, unit(0), unit(60 + i), unit((60 + i) / 2)))
    result = metric.compute(context())
    assert result.values["intervals_overlap"] and not result.values["discriminative"]
    assert result.summary["intervals apart"] == "no: they overlap"


def test_top1_retrieval_and_metric():
    gallery = np.stack([unit(0), unit(5), unit(90), unit(95), unit(180)])
    ids = ("a", "a", "b", "b", "c")
    assert m.top1_retrieval(np.stack([unit(3), unit(92), unit(170)]), gallery, ids) == ["a", "b", "c"]
    metric = m.build_identity_retrieval()
    metric.update(swap_record(0, unit(0), unit(90), unit(2), "a", "b"))  # near its source: hit
    metric.update(swap_record(1, unit(90), unit(180), unit(178), "b", "c"))  # near its target: miss
    metric.update(swap_record(2, unit(0), unit(180), unit(4), None, "c"))  # unlabelled source: not counted
    result = metric.compute(context(gallery_embeddings=gallery, gallery_ids=ids, gallery_names=("x",) * 5))
    assert result.values["top1_source"] == 50.0 and result.values["top1_target"] == 50.0
    assert result.values["queries"] == 2 and result.values["identities"] == 3
    assert not metric.compute(context()).applicable  # no gallery: not applicable, not 0 %


def test_reconstruction_errors():
    original = np.zeros((4, 4, 3), dtype=np.uint8)
    assert m.l1_error(original, original) == 0.0 and m.psnr(original, original) == m.PSNR_CAP_DB
    recon = np.full_like(original, 51)  # 0.2 on [0, 1]: MSE 0.04, PSNR 10 log10(25)
    assert m.l1_error(original, recon) == pytest.approx(0.2)
    assert m.psnr(original, recon) == pytest.approx(10 * math.log10(25))
    metric = m.build_reconstruction()
    metric.update(m.ReconstructionRecord("x", "x", True, original, recon))
    metric.update(m.ReconstructionRecord("x", "x", True, original, original))
    result = metric.compute(context())
    assert result.values["self"]["l1"]["mean"] == pytest.approx(0.1)
    assert result.values["self"]["psnr"]["mean"] == pytest.approx((100 + 10 * math.log10(25)) / 2)
    assert "same_identity" not in result.values


def test_relative_identity():
    g, lc = np.array([0.0, 0.0]), np.array([4.0, 0.0])
    assert m.relative_identity(g, g, lc) == 0.0 and m.relative_identity(lc, g, lc) == 1.0
    assert m.relative_identity(np.array([2.0, 3.0]), g, lc) == pytest.approx(0.5)
    assert m.relative_identity(np.array([1.0, 0.0]), g, lc) == pytest.approx(0.25)
    metric = m.build_relative_identity()
    metric.update(m.MixRecord("t", "g", "l", g, lc, np.array([1.0, 0.0]), np.array([0.4, 0.0]), np.array([3.6, 0.0])))
    values = metric.compute(context()).values
    assert values["mix"]["r_id_gb"] == pytest.approx(0.25) and values["mix"]["r_id_lc"] == pytest.approx(0.75)
    assert values["global"]["r_id_gb"] == pytest.approx(0.1) and values["local"]["r_id_gb"] == pytest.approx(0.9)


def test_deidentification_tar():
    rule = SamePersonRule("euclidean", 0.6, "dlib")
    metric = m.build_deidentification_tar()
    ref = np.zeros(3)
    for original, anonymized in [(0.3, 0.9), (0.5, 0.55), (0.7, 1.2), (0.1, 0.2)]:
        metric.update(m.DeidentifyRecord("a", "b", ref, np.array([original, 0, 0]), np.array([anonymized, 0, 0])))
    result = metric.compute(m.EvaluationContext("m", frozenset({"deidentify"}), "dlib-resnet", rule))
    assert result.values["tar_original"] == 0.75 and result.values["tar"] == 0.5
    assert result.values["threshold"] == "Euclidean distance < 0.6 (dlib)"
    assert not metric.compute(context()).applicable  # a recognizer without a threshold: no TAR
    cosine_rule = SamePersonRule("cosine", 0.5, "x")
    assert list(cosine_rule.accepts(np.stack([unit(0), unit(0)]), np.stack([unit(10), unit(80)]))) == [True, False]


def test_cosines():
    assert cosine_rows(unit(0), unit(60))[0] == pytest.approx(0.5)
    assert cosine_matrix(np.stack([unit(0), 3 * unit(90)]), np.stack([unit(0), unit(90)])) == pytest.approx(np.eye(2))


def project(rotation: np.ndarray, size=(640, 480), depth=3000.0) -> np.ndarray:
    """68 landmarks whose six pose points are the generic face rotated and projected."""
    camera = m.camera_matrix(size)
    points = (rotation @ m.GENERIC_FACE_3D.T).T + np.array([20.0, -10.0, depth])
    uv = (camera @ points.T).T
    landmarks = np.zeros((68, 2))
    landmarks[list(m.POSE_LANDMARKS)] = uv[:, :2] / uv[:, 2:]
    return landmarks


def rotation_from(pitch: float, yaw: float, roll: float) -> np.ndarray:
    import cv2

    p, y, r = (math.radians(v) for v in (pitch, yaw, roll))
    rx = cv2.Rodrigues(np.array([p, 0.0, 0.0]))[0]
    ry = cv2.Rodrigues(np.array([0.0, y, 0.0]))[0]
    rz = cv2.Rodrigues(np.array([0.0, 0.0, r]))[0]
    return rz @ ry @ rx


@pytest.mark.parametrize("angles", [(0, 0, 0), (10, -25, 5), (-15, 30, -8)])
def test_head_pose_recovers_known_rotations(angles):
    rotation = m.head_pose(project(rotation_from(*angles)), (640, 480))
    assert m.euler_angles(rotation) == pytest.approx(angles, abs=0.5)


def test_pose_error_is_the_rotation_between_swap_and_target():
    assert m.rotation_angle(rotation_from(0, 20, 0), rotation_from(0, -10, 0)) == pytest.approx(30)
    metric = m.build_pose_pnp()
    record = swap_record(0, unit(0), unit(1), unit(0))
    record.image_size = (640, 480)
    record.target_landmarks = project(rotation_from(0, 15, 0))
    record.swap_landmarks = project(rotation_from(0, -5, 0))
    metric.update(record)
    values = metric.compute(context()).values
    assert values["angle_deg"]["mean"] == pytest.approx(20, abs=0.5)
    assert values["yaw_abs_deg"] == pytest.approx(20, abs=0.5) and values["roll_abs_deg"] < 0.5


def test_latency():
    metric = m.build_latency(pipeline_photos=2)
    for seconds in (0.01, 0.03, 0.02):
        metric.update(swap_record(0, unit(0), unit(1), unit(0), seconds=seconds))
    metric.update(m.PipelineRecord("s", "t", 0.5))
    result = metric.compute(context())
    assert result.values["swap_ms"]["median"] == pytest.approx(20) and result.values["pipeline_ms"]["n"] == 1
    assert metric.pipeline_photos == 2
    with pytest.raises(ValueError):
        m.build_latency(pipeline_photos=-1)


def test_frechet_distance_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 1.0, 1.0])
    # diagonal covariances: ||mu1 - mu2||^2 + sum (s1 + s2 - 2 sqrt(s1 s2))
    expected = 5.0 + (1 + 4 - 4) + (4 + 1 - 4) + (9 + 1 - 6)
    assert m.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 4))
    cov = np.cov(a, rowvar=False)
    assert m.frechet_distance(a.mean(0), cov, a.mean(0), cov) == pytest.approx(0.0, abs=1e-8)


def test_fid_says_what_is_missing(monkeypatch, tmp_path):
    import torch

    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # import fails as when not installed
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(ZooError) as error:
        m.build_fid()
    message = str(error.value)
    assert message.startswith("fid needs torch-fidelity") and "pip install torch-fidelity" in message
    assert m.INCEPTION_FILE in message and m.INCEPTION_URL in message and "fid.weights=PATH" in message
    wrong = tmp_path / "inception.pth"
    torch.save({"w": torch.zeros(1)}, wrong)
    with pytest.raises(ZooError, match=f"is not {m.INCEPTION_FILE}"):
        m.build_fid(weights=str(wrong))


def test_fid_metric_streams_crops_through_the_extractor(monkeypatch):
    import torch

    class MeanColour(torch.nn.Module):  # stands in for torch-fidelity's InceptionV3 (uint8 NCHW in)
        def forward(self, x):
            assert x.dtype == torch.uint8 and x.shape[1] == 3
            return (x.float().mean((2, 3)),)

    monkeypatch.setattr(m, "load_inception", lambda weights, download, device: MeanColour())
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 255, (8, 8, 3), dtype=np.uint8) for _ in range(6)]

    def fid_of(offset):
        metric = m.build_fid(batch_size=4)
        for i in range(3):
            swapped = np.clip(crops[2 * i].astype(int) + offset, 0, 255).astype(np.uint8)
            metric.update(m.SwapRecord(i, f"s{i}", f"t{i}", None, None, crops[2 * i], crops[2 * i + 1], swapped, 0, (8, 8)))
        return metric.compute(context())

    base, shifted = fid_of(0), fid_of(60)
    assert base.values["swapped"] == 3 and base.values["originals"] == 6
    assert shifted.values["fid"] > base.values["fid"] + 1000  # a colour shift of 60 moves the means by ~60^2 x 3


def test_metric_result_json_has_no_nan():
    result = m.MetricResult("x", values={"a": float("nan"), "b": np.float32(1.5), "c": np.array([1, 2])})
    assert result.to_json()["values"] == {"a": None, "b": 1.5, "c": [1, 2]}
