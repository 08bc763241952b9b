"""``zoo synth plan``: identity-disjoint splits over random folders, stable ids, FaceForensics++
split files, real rows, perturbation chains and fake segments recorded per row."""

from __future__ import annotations

import json
import random
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from zoo_core.cli import cli
from zoo_core.errors import InputError
from zoo_core.synth.plan import PlanSettings, build_plan, digest, read_plan
from zoo_core.synth.splits import split_counts


def random_folder(root: Path, rng: random.Random) -> Path:
    """Identity folders and loose files (each its own identity) with empty media files."""
    for k in range(rng.randint(2, 30)):
        if rng.random() < 0.7:
            folder = root / f"person{k:02d}"
            folder.mkdir(parents=True)
            for j in range(rng.randint(1, 4)):
                (folder / f"{j}.{rng.choice(['jpg', 'png'])}").touch()
        else:
            root.mkdir(parents=True, exist_ok=True)
            (root / f"solo{k:02d}.jpg").touch()
    return root


def identities_by_split(rows: list[dict]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        for side in ("source", "target"):
            if row[side] is not None:
                found[row["split"]].add(row[side]["identity"])
    return found


def test_splits_are_identity_disjoint_over_random_folders(tmp_path):
    for trial in range(60):
        rng = random.Random(trial)
        root = random_folder(tmp_path / str(trial), rng)
        fractions = rng.choice([(0.8, 0.1, 0.1), (0.5, 0.5, 0.0), (0.34, 0.33, 0.33), (1.0, 0.0, 0.0)])
        settings = PlanSettings(methods=["m1", "m2"], pairs_per_identity=rng.randint(1, 3), seed=trial,
                                fractions=fractions, real=rng.random() < 0.5)
        try:
            rows = build_plan(root, settings)
        except InputError as error:
            assert "no pairs to plan" in str(error)
            continue
        by_split = identities_by_split(rows)
        splits = list(by_split)
        for i, a in enumerate(splits):
            for b in splits[i + 1 :]:
                assert not by_split[a] & by_split[b], (trial, a, b)
        for row in rows:
            if row["source"] is not None:
                assert row["source"]["identity"] != row["target"]["identity"]
        assert len({r["id"] for r in rows}) == len(rows)
        # every fake target identity has pairs_per_identity pairs per method (its split has >= 2 identities)
        fakes = defaultdict(int)
        for row in rows:
            if row["label"] == "fake":
                fakes[(row["target"]["identity"], row["method"])] += 1
        assert set(fakes.values()) <= set(range(1, settings.pairs_per_identity + 1))


def test_split_counts_follow_the_fractions_and_feed_every_split():
    assert split_counts(100, (0.8, 0.1, 0.1)) == [80, 10, 10]
    assert split_counts(13, (0.8, 0.1, 0.1)) == [9, 2, 2]  # two each: the fewest that pair
    assert split_counts(3, (0.8, 0.1, 0.1)) == [1, 1, 1]
    assert split_counts(7, (1.0, 0.0, 0.0)) == [7, 0, 0]
    for total in range(40):
        assert sum(split_counts(total, (0.7, 0.2, 0.1))) == total


def test_plan_ids_are_stable_and_follow_every_input(tmp_path):
    root = random_folder(tmp_path / "a", random.Random(5))
    settings = PlanSettings(methods=["m1"], pairs_per_identity=2, seed=1, real=True, perturbations=("none", "mix"))
    first = build_plan(root, settings)
    assert first == build_plan(root, settings)
    moved = shutil.copytree(root, tmp_path / "elsewhere")
    assert [r["id"] for r in build_plan(moved, settings)] == [r["id"] for r in first]  # paths are relative
    row = first[0]
    expected = digest({"source": row["source"]["path"], "target": row["target"]["path"], "method": "m1",
                       "model": row["model"], "seed": 1, "compression": "c23", "perturb": row["perturb"],
                       "perturbations": row["perturbations"], "segment": None})[:24]
    assert row["id"] == expected
    other = build_plan(root, PlanSettings(methods=["m1"], pairs_per_identity=2, seed=1, real=True,
                                          perturbations=("none", "mix"), compressions=("c40",)))
    assert not {r["id"] for r in other} & {r["id"] for r in first}


def test_real_rows_are_the_targets_of_their_split(tmp_path):
    root = random_folder(tmp_path / "r", random.Random(11))
    rows = build_plan(root, PlanSettings(methods=["m1"], pairs_per_identity=1, seed=2, real=True))
    fakes = {(r["split"], r["target"]["path"]) for r in rows if r["label"] == "fake"}
    reals = {(r["split"], r["target"]["path"]) for r in rows if r["label"] == "real"}
    assert reals == fakes and all(r["source"] is None and r["method"] == "real" for r in rows if r["label"] == "real")


def test_ffpp_split_files_give_both_swaps_of_each_pair(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    for name in ("000", "001", "002", "003", "004", "005"):
        (root / f"{name}.png").touch()
    splits = tmp_path / "splits"
    splits.mkdir()
    for split, pairs in {"train": [["000", "001"], ["002", "003"]], "val": [["004", "005"]], "test": []}.items():
        (splits / f"{split}.json").write_text(json.dumps(pairs))
    rows = build_plan(root, PlanSettings(methods=["m"], ffpp_splits=splits))
    got = {(r["split"], r["target"]["identity"], r["source"]["identity"]) for r in rows}
    assert got == {("train", "000", "001"), ("train", "001", "000"), ("train", "002", "003"),
                   ("train", "003", "002"), ("val", "004", "005"), ("val", "005", "004")}
    (splits / "test.json").write_text(json.dumps([["001", "004"]]))
    with pytest.raises(InputError, match="test.json: id '00[14]' is also in"):
        build_plan(root, PlanSettings(methods=["m"], ffpp_splits=splits))


def test_cli_plan_writes_rows_with_chains_compressions_and_segments(plugins, tmp_path, clip):
    root = tmp_path / "src"
    for name in ("a", "b", "c", "d"):
        (root / name).mkdir(parents=True)
        (root / name / "p.jpg").touch()
    shutil.copy(clip, root / "a" / "v.mp4")
    plan = tmp_path / "plan.jsonl"
    args = ["synth", "plan", str(root), "-o", str(plan), "--methods", "graphics-512,simswap-224", "--splits", "1,0,0", "--videos",
            "--compression", "c0", "--compression", "c40", "--perturb", "CS:2+VC:1", "--perturb", "mix:2",
            "--segment", "auto", "--seed", "4"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    rows = read_plan(plan)
    assert {r["compression"] for r in rows} == {"c0", "c40"} and {r["method"] for r in rows} == {"graphics-512", "simswap-224"}
    for row in rows:
        video = row["target"]["video"]
        kinds = [kind for kind, _ in row["perturbations"]]
        if row["perturb"] == "mix:2":
            assert len(set(kinds)) == 2
        else:
            assert kinds == (["CS", "VC"] if video else ["CS"])  # VC acts on videos only
        assert video or "VC" not in kinds
        if video:
            start, end = row["segment"]
            assert 0 <= start < end <= 6 and row["output"].endswith(".mp4")
        else:
            assert row["segment"] is None and row["output"].endswith(".png" if row["compression"] == "c0" else ".jpg")
    result = CliRunner().invoke(cli, args)  # regenerated: the same rows
    assert read_plan(plan) == rows
    bad = CliRunner().invoke(cli, [*args[:5], "--methods", "graphics-512", "--perturb", "XX:9"])
    assert bad.exit_code == 1 and bad.output.startswith("error: --perturb 'XX:9'")


def test_bad_inputs_are_one_line_errors(plugins, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no media")
    result = CliRunner().invoke(cli, ["synth", "plan", str(empty), "-o", str(tmp_path / "p.jsonl"), "--methods", "graphics-512"])
    assert result.exit_code == 1 and result.output == f"error: {empty}: no photos or videos found\n"
    bad_plan = tmp_path / "bad.jsonl"
    bad_plan.write_text('{"id": "x", "split": "train", "label": "fake", "target": {}, "output": "o.png"}\n{oops\n')
    result = CliRunner().invoke(cli, ["synth", "run", str(bad_plan), "-o", str(tmp_path / "ds")])
    assert result.exit_code == 1 and result.output.startswith(f"error: {bad_plan}:2: not a JSON line")
    result = CliRunner().invoke(cli, ["synth", "plan", str(empty), "-o", str(tmp_path / "p.jsonl"), "--methods", "graphics-512",
                                      "--set", "other:ngf=4"])
    assert result.exit_code == 2 and "METHOD:key=value" in result.output
    result = CliRunner().invoke(cli, ["synth", "plan", str(empty), "-o", str(tmp_path / "p.jsonl"), "--methods", "graphics-512",
                                      "--splits", "0.5,0.6,0"])
    assert result.exit_code == 1 and "--splits '0.5,0.6,0': expected three non-negative fractions summing to 1" in result.output
    result = CliRunner().invoke(cli, ["synth", "plan", str(empty), "-o", str(tmp_path / "p.jsonl"), "--methods", "graphics-512,nope-1"])
    assert result.exit_code == 1 and result.output.startswith("error: unknown model 'nope-1'")
    assert not (tmp_path / "p.jsonl").exists()
