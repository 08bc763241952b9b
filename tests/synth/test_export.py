"""``zoo synth export``: every format read back and checked against the manifest."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import yaml
from click.testing import CliRunner
from PIL import Image

from zoo_core.cli import cli
from zoo_core.serialization import sha256_file
from zoo_core.synth.manifest import read_manifest


def export(dataset: Path, fmt: str, output: Path, *extra: str) -> None:
    result = CliRunner().invoke(cli, ["synth", "export", str(dataset), "--format", fmt, "-o", str(output), *extra])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote {output}"


def done(dataset: Path) -> list[dict]:
    records = [r for r in read_manifest(dataset).values() if r["status"] == "done"]
    assert {r["label"] for r in records} == {"real", "fake"} and any(r["target"]["video"] for r in records)
    return records


def test_deepfakebench_json_key_by_key(small_dataset, tmp_path):
    output = tmp_path / "bench" / "Zoo.json"
    export(small_dataset, "deepfakebench", output, "--name", "Zoo")
    data = json.loads(output.read_text())
    records = done(small_dataset)
    assert list(data) == ["Zoo"]
    assert set(data["Zoo"]) == {"Zoo-real", "Zoo-simswap-224"}
    level = {"c0": "raw", "c23": "c23"}
    count = 0
    for label, by_split in data["Zoo"].items():
        assert set(by_split) == {"train", "val", "test"}
        for split, by_level in by_split.items():
            assert set(by_level) <= {"raw", "c23"}
            for compression, videos in by_level.items():
                for name, entry in videos.items():
                    count += 1
                    assert set(entry) == {"label", "frames", "masks"} and entry["label"] == label
                    record = next(r for r in records if Path(r["output"]).stem == name)
                    assert (record["split"], level[record["compression"]]) == (split, compression)
                    assert (record["label"] == "real") == (label == "Zoo-real")
                    assert len(entry["frames"]) == (6 if record["target"]["video"] else 1)
                    assert all(Path(f).is_file() and Path(f).is_absolute() for f in entry["frames"])
                    if not record["target"]["video"]:  # a photo: its rendered file, linked
                        assert os.path.samefile(entry["frames"][0], small_dataset / record["output"])
                    if record["label"] == "real":
                        assert entry["masks"] == []
                    else:  # DeepfakeBench's loader finds a frame's mask by this replacement
                        assert entry["masks"] == [f.replace("frames", "masks") for f in entry["frames"]]
                        first = Image.open(entry["frames"][0])
                        assert Image.open(entry["masks"][0]).size == first.size
    assert count == len(records)
    snippet = yaml.safe_load((tmp_path / "bench" / "Zoo.json.label_dict.yaml").read_text())
    assert snippet == {"train_dataset": ["Zoo"], "test_dataset": ["Zoo"],
                       "label_dict": {"Zoo-real": 0, "Zoo-simswap-224": 1}}


def test_ffpp_layout_names_and_splits(small_dataset, tmp_path):
    output = tmp_path / "ffpp"
    export(small_dataset, "ffpp", output)
    records = done(small_dataset)
    pairs: dict[str, set] = {"train": set(), "val": set(), "test": set()}
    placed = 0
    for record in records:
        level = {"c0": "raw", "c23": "c23"}[record["compression"]]
        target = record["target"]["identity"]
        name = target if record["label"] == "real" else f"{target}_{record['source']['identity']}"
        base = output / ("original_sequences/youtube" if record["label"] == "real"
                         else "manipulated_sequences/simswap-224") / level
        suffix = Path(record["output"]).suffix
        kind = "videos" if record["target"]["video"] else "images"
        candidates = list((base / kind).glob(f"{name}*{suffix}" if kind == "videos" else f"{name}*/0000{suffix}"))
        matches = [c for c in candidates if sha256_file(c) == record["output_sha256"]]
        assert len(matches) == 1, (record["id"], candidates)
        assert os.path.samefile(matches[0], small_dataset / record["output"])  # hard-linked
        placed += 1
        if record["label"] == "fake":
            pairs[record["split"]].add((target, record["source"]["identity"]))
    assert placed == len(records)
    for split in pairs:
        assert {tuple(p) for p in json.loads((output / "splits" / f"{split}.json").read_text())} == pairs[split]
    masks = list((output / "manipulated_sequences/simswap-224/masks").rglob("*.png"))
    assert masks and not (output / "original_sequences/youtube/masks").exists()


def test_csv_one_line_per_row(small_dataset, tmp_path):
    output = tmp_path / "rows.csv"
    export(small_dataset, "csv", output)
    with output.open(newline="") as handle:
        lines = list(csv.DictReader(handle))
    records = {r["id"]: r for r in done(small_dataset)}
    assert sorted(line["id"] for line in lines) == sorted(records)
    for line in lines:
        record = records[line["id"]]
        assert sha256_file(line["output"]) == line["output_sha256"] == record["output_sha256"]
        assert (line["label"], line["split"], line["compression"]) == (record["label"], record["split"], record["compression"])
        assert Path(line["target"]).is_file() and (line["mask"] == "") == (record["label"] == "real")
        assert line["license"] == ("cc-by-nc-4.0" if record["label"] == "fake" else "")


def test_export_of_a_folder_without_manifest_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["synth", "export", str(tmp_path), "--format", "csv", "-o", str(tmp_path / "x.csv")])
    assert result.exit_code == 1 and result.output == f"error: {tmp_path}: not a zoo synth dataset (no manifest/ folder)\n"


def test_an_output_of_the_wrong_kind_is_refused_before_writing(small_dataset, tmp_path):
    for fmt, output in (("deepfakebench", tmp_path / "out"), ("csv", tmp_path / "rows.json"),
                        ("deepfakebench", tmp_path)):
        result = CliRunner().invoke(cli, ["synth", "export", str(small_dataset), "--format", fmt, "-o", str(output)])
        assert result.exit_code == 2 and "writes one" in result.output, result.output
    (tmp_path / "file").write_text("x")
    result = CliRunner().invoke(cli, ["synth", "export", str(small_dataset), "--format", "ffpp", "-o", str(tmp_path / "file")])
    assert result.exit_code == 2 and "writes a folder" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing partial left behind
