"""``zoo synth run`` on real photos and a real clip: graphics-512 (a real swap) and a tiny
random-init simswap-224; outputs, masks and manifest, resuming, failed rows, shards, workers."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from zoo_core.cli import cli
from zoo_core.faces.io import read_provenance
from zoo_core.faces.video import VideoWriter, iter_frames, probe
from zoo_core.serialization import sha256_file
from zoo_core.synth.manifest import read_manifest
from zoo_core.synth.plan import folder_name, read_plan
from zoo_core.synth.shards import shard_rows

from .conftest import TINY_SIMSWAP

FIELDS = {"id", "split", "label", "method", "model", "family", "weights", "license", "seed", "source", "target",
          "output", "output_sha256", "mask", "mask_sha256", "frames", "faces", "segment", "compression",
          "perturbations", "zoo_core_version", "status", "created"}


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, ["synth", *args, *(["--no-progress"] if args[0] == "run" else [])])
    assert result.exit_code == 0, result.output
    return "".join(line for line in result.output.splitlines(keepends=True) if not line.startswith("warning: "))


def plan(tmp_path: Path, source: Path, *options: str, name: str = "plan.jsonl") -> Path:
    path = tmp_path / name
    invoke("plan", str(source), "-o", str(path), *options)
    return path


def tiny(*options: str) -> list[str]:
    return ["--methods", "simswap-224", "--random-init", *[a for item in TINY_SIMSWAP for a in ("--set", item)], *options]


def rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_graphics_photos_outputs_masks_manifest(plugins, people, tmp_path):
    path = plan(tmp_path, people, "--methods", "graphics-512", "--splits", "0.6,0.4,0", "--real",
                "--compression", "c0", "--seed", "1")
    rows = read_plan(path)
    out = tmp_path / "ds"
    assert invoke("run", str(path), "-o", str(out), "--batch-size", "3").splitlines()[0] == \
        f"written {len(rows)}, skipped 0 (done before), failed 0"
    records = read_manifest(out)
    assert set(records) == {r["id"] for r in rows}
    for row in rows:
        record = records[row["id"]]
        assert FIELDS <= record.keys() and record["status"] == "done"
        output = out / record["output"]
        assert sha256_file(output) == record["output_sha256"]
        target = rgb(people / row["target"]["path"])
        if row["label"] == "real":
            assert np.array_equal(rgb(output), target) and record["mask"] is None  # c0: lossless, no perturbation
            continue
        assert record["license"] == "apache-2.0" and record["weights"] == "graphics-512 (no weights)"
        assert record["family"] == "graphics" and record["source"]["identity"] != record["target"]["identity"]
        mask = np.asarray(Image.open(out / record["mask"]))
        assert mask.ndim == 2 and sha256_file(out / record["mask"]) == record["mask_sha256"]
        changed = np.any(rgb(output) != target, axis=2)
        assert not changed[mask == 0].any()  # the mask is where paste-back may change pixels
        assert changed[mask > 200].mean() > 0.5 and (mask > 0).mean() < 0.6
        face = record["faces"][0]
        x0, y0, x1, y1 = face["box"]
        for x, y in face["landmarks"]:  # the landmarks are in the box (image coordinates)
            assert x0 - 5 <= x <= x1 + 5 and y0 - 5 <= y <= y1 + 5
        matrix = np.array(face["crop_transform"])
        eyes = np.array(face["landmarks"][:2]) @ matrix[:, :2].T + matrix[:, 2]
        assert 0 < eyes.min() and eyes.max() < face["crop_size"]
        provenance = read_provenance(output)
        assert provenance["model"] == "graphics-512" and provenance["synth_id"] == row["id"]


def test_resume_redoes_missing_and_corrupt_rows_only(plugins, people, tmp_path):
    path = plan(tmp_path, people, *tiny("--splits", "1,0,0", "--seed", "2"))
    out = tmp_path / "ds"
    invoke("run", str(path), "-o", str(out))
    records = list(read_manifest(out).values())
    first = {r["id"]: rgb(out / r["output"]).tobytes() for r in records}
    (out / records[0]["output"]).unlink()
    (out / records[1]["output"]).write_bytes(b"not the output")
    shutil.rmtree(out / records[2]["mask"], ignore_errors=True)
    (out / records[2]["mask"]).unlink()
    assert invoke("run", str(path), "-o", str(out)).splitlines()[0] == \
        f"written 3, skipped {len(records) - 3} (done before), failed 0"
    again = {r["id"]: rgb(out / r["output"]).tobytes() for r in read_manifest(out).values()}
    assert again == first  # the same pixels (the files differ only in their provenance's time)
    written = Image.open(out / records[0]["output"])  # c23: a JPEG of quality 85
    reference = io.BytesIO()
    written.convert("RGB").save(reference, format="JPEG", quality=85)
    assert written.format == "JPEG" and written.quantization == Image.open(reference).quantization


def test_failed_rows_are_recorded_and_retried_only_on_request(plugins, people, tmp_path):
    source = tmp_path / "src"
    shutil.copytree(people, source)
    Image.fromarray(np.full((120, 160, 3), 90, np.uint8)).save(source / "obama" / "wall.png")
    (source / "biden" / "broken.png").write_bytes(b"\x89PNG not really")
    path = plan(tmp_path, source, *tiny("--splits", "1,0,0", "--pairs-per-identity", "3", "--seed", "3"))
    rows = read_plan(path)
    bad = [r for r in rows if r["target"]["path"] in {"obama/wall.png", "biden/broken.png"}
           or r["source"]["path"] in {"obama/wall.png", "biden/broken.png"}]
    assert bad
    out = tmp_path / "ds"
    lines = invoke("run", str(path), "-o", str(out), "--batch-size", "4").splitlines()
    assert lines[0] == f"written {len(rows) - len(bad)}, skipped 0 (done before), failed {len(bad)}"
    reasons = {line.split(": ", 1)[0].removeprefix("failed "): line.split(": ", 1)[1] for line in lines[1:]}
    for row in bad:
        assert "no face found" in reasons[row["id"]] or "unreadable or corrupt image" in reasons[row["id"]]
        assert "\n" not in reasons[row["id"]]
    assert read_manifest(out)[bad[0]["id"]]["status"] == "failed"
    again = invoke("run", str(path), "-o", str(out)).splitlines()[0]
    assert again == f"written 0, skipped {len(rows) - len(bad)} (done before), failed 0, {len(bad)} failed before (rerun with --retry-failed)"
    retried = invoke("run", str(path), "-o", str(out), "--retry-failed").splitlines()[0]
    assert retried == f"written 0, skipped {len(rows) - len(bad)} (done before), failed {len(bad)}"


def test_three_shards_cover_the_plan_once(plugins, people, tmp_path):
    path = plan(tmp_path, people, *tiny("--splits", "1,0,0", "--real", "--seed", "4"))
    rows = read_plan(path)
    parts = [shard_rows(rows, 3, k) for k in range(3)]
    assert sorted(r["id"] for part in parts for r in part) == sorted(r["id"] for r in rows)
    out = tmp_path / "ds"
    for k in range(3):
        invoke("run", str(path), "-o", str(out), "--num-shards", "3", "--shard-index", str(k))
    files = sorted((out / "manifest").glob("*.jsonl"))
    assert [f.name for f in files] == [f"shard-0000{k}-of-00003.jsonl" for k in range(3)]
    ids = [json.loads(line)["id"] for f in files for line in f.read_text().splitlines()]
    assert sorted(ids) == sorted(r["id"] for r in rows)  # no row twice, none missing
    bad = CliRunner().invoke(cli, ["synth", "run", str(path), "-o", str(out), "--num-shards", "3", "--shard-index", "3"])
    assert bad.exit_code == 1 and "--shard-index 3" in bad.output


def test_loader_workers_and_batching_give_the_same_pixels(plugins, people, tmp_path):
    """Rows prepared in workers or in-process, swapped one by one or several per model call
    (each with its own source's identity code), render the same pixels (float batching may
    move a rounded value by one)."""
    path = plan(tmp_path, people, *tiny("--splits", "1,0,0", "--seed", "5", "--perturb", "mix", "--pairs-per-identity", "2"))
    runs = []
    for workers, batch in (("0", "1"), ("2", "4")):
        out = tmp_path / f"ds{workers}"
        invoke("run", str(path), "-o", str(out), "--num-workers", workers, "--batch-size", batch)
        runs.append({k: (rgb(out / r["output"]).astype(int), rgb(out / r["mask"]).astype(int))
                     for k, r in read_manifest(out).items()})
    assert runs[0].keys() == runs[1].keys() and len(runs[0]) == len(read_plan(path))
    assert len({r["source"]["identity"] for r in read_plan(path)}) > 1
    for key, (image, mask) in runs[0].items():
        assert np.array_equal(mask, runs[1][key][1])
        assert np.abs(image - runs[1][key][0]).max() <= 1


def test_video_segment_is_swapped_and_masked_per_frame(plugins, people, clip, tmp_path):
    source = tmp_path / "src"
    shutil.copytree(people, source)
    shutil.copy(clip, source / "obama" / "clip.mp4")
    shutil.rmtree(source / "rose_leslie")
    path = plan(tmp_path, source, *tiny("--splits", "1,0,0", "--videos", "--segment", "2:5", "--compression", "c0",
                                        "--pairs-per-identity", "1", "--seed", "6", "--perturb", "VC:5", "--real"))
    rows = [r for r in read_plan(path) if r["target"]["video"] and r["label"] == "fake"]
    out = tmp_path / "ds"
    invoke("run", str(path), "-o", str(out))
    if not rows:
        pytest.skip("the seed drew no video target")
    record = read_manifest(out)[rows[0]["id"]]
    assert record["frames"] == [2, 3, 4] and record["segment"] == [2, 5]
    masks = sorted((out / record["mask"]).iterdir())
    assert [p.name for p in masks] == [f"{k:05d}.png" for k in range(6)]  # one per frame, zero outside the segment
    assert [bool(np.asarray(Image.open(p)).any()) for p in masks] == [False, False, True, True, True, False]
    assert record["perturbations"] == [["VC", 5]]
    frames = list(iter_frames(out / record["output"]))
    assert len(frames) == 6 and read_provenance(out / record["output"])["synth_id"] == record["id"]
    # The real clip through VC level 5 (libx264 crf 40) then c0 (lossless): as encoding it at crf 40 directly.
    real = next(r for r in read_manifest(out).values() if r["label"] == "real" and r["target"]["video"])
    direct = tmp_path / "crf40.mp4"
    with VideoWriter(direct, probe(clip).fps, *frames[0].shape[1::-1], crf=40) as writer:
        for frame in iter_frames(clip):
            writer.write(frame)
    got = np.stack(list(iter_frames(out / real["output"]))).astype(int)
    expected = np.stack(list(iter_frames(direct))).astype(int)
    original = np.stack(list(iter_frames(clip))).astype(int)
    # crf 40 moves pixels by ~9 levels on average; the extra lossless yuv420p pass by ~1
    assert np.abs(got - expected).mean() < 0.25 * np.abs(got - original).mean()


def test_saved_weights_are_named_by_their_sha256(plugins, people, tmp_path):
    import torch

    import zoo_core

    torch.manual_seed(0)
    config = dict(item.split(":", 1)[1].split("=") for item in TINY_SIMSWAP)
    model = zoo_core.create_model("simswap-224", **{k: int(v) for k, v in config.items()})
    folder = tmp_path / "my-simswap"
    zoo_core.save_pretrained(model, folder)
    method = f"local-dir:{folder}"
    path = plan(tmp_path, people, "--methods", method, "--splits", "1,0,0", "--seed", "11")
    out = tmp_path / "ds"
    invoke("run", str(path), "-o", str(out))
    records = list(read_manifest(out).values())
    digest = sha256_file(folder / "model.safetensors")
    assert records and all(r["weights"] == f"{method} sha256:{digest}" for r in records)
    assert all(r["output"].split("/")[2] == folder_name(method) and "/" not in folder_name(method) for r in records)
    assert read_provenance(out / records[0]["output"])["weights"] == f"{method} sha256:{digest}"
