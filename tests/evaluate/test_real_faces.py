"""The metric code on real faces, with fake models whose answers are known: a swap that returns
the source crop is a new photo of the source person (pasted into the target photo), a swap that
returns the target crop is the target photo again."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from zoo_core.evaluate.recognizers import cosine_rows

NUM_PAIRS = 8  # conftest.NUM_PAIRS


def results(report, label):
    return next(m for m in report.models if m.label == label).results


def pairs_csv_cosines(faces_dir, cache, pairs):
    """cos of dlib embeddings for the rows of deepface/pairs.csv whose photos are in the set."""
    by_name = {f"{p.parent.name}/{p.name}": p for p in pairs.photos()}
    same, different = [], []
    with (faces_dir / "deepface" / "pairs.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row["file_x"] in by_name and row["file_y"] in by_name:
                a, b = cache.embedding(by_name[row["file_x"]]), cache.embedding(by_name[row["file_y"]])
                (same if row["same"] == "1" else different).append(float(cosine_rows(a, b)[0]))
    return np.asarray(same), np.asarray(different)


def test_swap_equal_to_source_is_a_same_identity_photo(fake_run, faces_dir):
    report, cache, pairs = fake_run
    assert report.setup["pairs_evaluated"] == NUM_PAIRS and report.setup["photos_without_face"] == []
    same, different = pairs_csv_cosines(faces_dir, cache, pairs)
    assert len(same) == len(pairs.identities) and len(different) > 20  # every identity's pair, many others
    similarity = results(report, "fake-128.source")["id-similarity"]
    swap_source = np.asarray(similarity.samples["swap_source"])
    # the statistics of same-identity pairs in deepface/pairs.csv ...
    assert abs(swap_source.mean() - same.mean()) < 0.03
    assert swap_source.min() > different.max() - 0.02
    # ... while the similarity to the target is at the level of different people
    swap_target = np.asarray(similarity.samples["swap_target"])
    assert abs(swap_target.mean() - different.mean()) < 0.04
    st = similarity.values["source_target"]
    assert st["n"] == NUM_PAIRS and abs(st["mean"] - different.mean()) < 0.04


def test_retrieval_is_perfect_for_source_and_nil_for_target(fake_run):
    report, _, _ = fake_run
    source = results(report, "fake-128.source")["id-retrieval"]
    target = results(report, "fake-128.target")["id-retrieval"]
    assert source.values["top1_source"] == 100.0 and source.values["queries"] == NUM_PAIRS
    assert source.values["gallery"] == 12 and source.values["identities"] == 6
    assert target.values["top1_source"] == 0.0 and target.values["top1_target"] == 100.0


def test_identity_distance_on_real_faces(fake_run):
    report, _, _ = fake_run
    source = results(report, "fake-128.source")["identity-mfim"].samples["l2"]
    target = results(report, "fake-128.target")["identity-mfim"].samples["l2"]
    # the source's own face pasted on the target is nearer the source than the target's face, pair by pair
    assert len(source) == len(target) == NUM_PAIRS and all(s < t for s, t in zip(source, target, strict=True))


def test_discriminability_on_real_faces(fake_run):
    report, _, _ = fake_run
    source = results(report, "fake-128.source")["id-discriminability"].values
    target = results(report, "fake-128.target")["id-discriminability"].values
    # a perfect source swap keeps the target similarity at the source-target level
    assert source["within_k_sigma"]["3"] >= 0.75 and source["discriminative"]
    # the target itself is far outside mu_st +- 3 sigma_st and on the wrong side
    assert target["within_k_sigma"]["3"] == 0.0 and not target["discriminative"] and target["gap"] < 0


def test_reconstruction_pose_and_capabilities(fake_run):
    report, _, _ = fake_run
    source, target = results(report, "fake-128.source"), results(report, "fake-128.target")
    # swap(x, x) returns x for both fakes; with another photo of x as source only the target fake does
    for r in (source, target):
        assert r["reconstruction"].values["self"]["l1"]["mean"] == 0.0
        assert r["reconstruction"].values["self"]["psnr"]["mean"] == 100.0
    assert source["reconstruction"].values["same_identity"]["l1"]["mean"] > 0.05
    assert target["reconstruction"].values["same_identity"]["l1"]["mean"] == 0.0
    # pose: the target fake keeps the target's landmarks exactly, the source fake does not
    assert target["pose-pnp"].values["angle_deg"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert source["pose-pnp"].values["angle_deg"]["mean"] > 1.0
    # mix/deidentify only for the model that has the capability
    assert not target["r-id"].applicable and "'mix'" in target["r-id"].reason
    assert not target["deid-tar"].applicable and "'deidentify'" in target["deid-tar"].reason


def test_r_id_and_deidentification_tar(fake_run):
    report, _, pairs = fake_run
    source = results(report, "fake-128.source")
    r_id = source["r-id"].values
    # mix = global source: as close to it as a swap with only the global source, far from the local one
    assert r_id["mix"]["r_id_gb"] == pytest.approx(r_id["global"]["r_id_gb"])
    assert r_id["mix"]["r_id_gb"] < 0.4 < 0.6 < r_id["local"]["r_id_gb"]
    tar = source["deid-tar"].values
    assert tar["pairs"] == len(pairs.same_identity) == len(pairs.identities)
    assert tar["tar_original"] >= 0.8  # the same people are accepted before de-identification ...
    assert tar["tar"] == 0.0  # ... and nobody after it is replaced by another person
    assert tar["threshold_value"] == 0.6 and tar["distance"] == "euclidean"


def test_latency_is_measured(fake_run):
    report, _, _ = fake_run
    latency = results(report, "fake-128.target")["latency"].values
    assert latency["swap_ms"]["n"] == NUM_PAIRS and latency["swap_ms"]["median"] >= 0
    assert latency["pipeline_ms"]["n"] == 1 and latency["pipeline_ms"]["median"] > latency["swap_ms"]["median"]
