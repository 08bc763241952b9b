"""The report files: report.json keys, the markdown comparison table, valid PNG plots."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from zoo_core.evaluate.engine import EvaluationReport, ModelReport
from zoo_core.evaluate.metrics import MetricResult
from zoo_core.evaluate.report import comparison_table, write_report


def test_report_files_of_a_real_evaluation(fake_run, tmp_path):
    report, _, _ = fake_run
    written = write_report(report, tmp_path / "out")
    assert sorted(p.name for p in written) == ["discriminability.png", "report.json", "report.md", "similarities.png"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in written)  # no temp files

    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert set(data) == {"setup", "models"}
    assert {"pairs_from", "pairs_evaluated", "pairs_skipped", "photos_without_face", "recognizer",
            "same_person_rule", "metrics", "seed", "plots"} <= set(data["setup"])
    assert data["setup"]["plots"] == ["similarities.png", "discriminability.png"]
    assert [m["label"] for m in data["models"]] == ["fake-128.source", "fake-128.target"]
    source = data["models"][0]["metrics"]
    assert sorted(source) == sorted(data["setup"]["metrics"])  # JSON keys are sorted
    assert source["id-retrieval"]["values"]["top1_source"] == 100.0
    assert len(source["id-similarity"]["samples"]["swap_source"]) == data["setup"]["pairs_evaluated"]
    assert data["models"][1]["metrics"]["r-id"] == {
        "name": "r-id", "values": {}, "summary": {}, "notes": [], "samples": {}, "applicable": False,
        "reason": "fake-128.target lacks the 'mix' capability"}

    markdown = (tmp_path / "out" / "report.md").read_text()
    results = markdown.split("## Results")[1].split("## Definitions")[0]
    table = [line for line in results.splitlines() if line.startswith("|")]
    header, source_row, target_row, last_row = table[0], table[2], table[3], table[4]
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns[:3] == ["model", "cos(swap, source) ↑", "cos(swap, target)"] and "ID retrieval (%) ↑" in columns
    cells = dict(zip(columns, [c.strip() for c in source_row.strip("|").split("|")], strict=True))
    assert cells["ID retrieval (%) ↑"] == "100.0" and cells["intervals apart"].startswith("yes")
    target_cells = dict(zip(columns, [c.strip() for c in target_row.strip("|").split("|")], strict=True))
    assert target_cells["R-ID(gb) mix"] == "n/a" and target_cells["ID retrieval (%) ↑"] == "0.0"
    assert last_row.startswith("| source with target |")  # InfoSwap Table 3's last row
    assert "![similarities](similarities.png)" in markdown and "- r-id for fake-128.target: " in markdown
    assert "Euclidean distance < 0.6" in markdown

    for name in ("similarities.png", "discriminability.png"):
        with Image.open(tmp_path / "out" / name) as image:
            image.verify()
        with Image.open(tmp_path / "out" / name) as image:
            assert image.format == "PNG" and image.width > 300 and image.height > 200
            assert len(np.unique(np.asarray(image.convert("L")))) > 20  # something was drawn


def test_a_report_without_similarities_has_no_plots(tmp_path):
    setup = {"zoo_core_version": "0", "created": "now", "pairs_from": "--pairs x.csv", "seed": 0, "device": "cpu",
             "recognizer": "dlib-resnet", "same_person_rule": None, "detector": "dlib-hog",
             "metrics": ["latency", "r-id"], "metric_options": {}, "pairs": 2, "pairs_evaluated": 1,
             "pairs_skipped": 1, "same_identity_pairs": 0, "same_identity_pairs_skipped": 0, "photos": 4,
             "photos_without_face": ["a/1.jpg"], "photos_unreadable": [], "gallery": 0, "identities": 0}
    results = {"latency": MetricResult("latency", values={"swap_ms": {"median": 3.0}}, summary={"ms/swap ↓": "3.0"}),
               "r-id": MetricResult.not_applicable("r-id", "m lacks the 'mix' capability")}
    report = EvaluationReport(setup, [ModelReport("m", "m-64", "random-init", ["swap"], None, results)])
    written = write_report(report, tmp_path)
    assert [p.name for p in written] == ["report.json", "report.md"]
    assert comparison_table(report) == ["| model | ms/swap ↓ |", "|---|---|", "| m | 3.0 |"]
    markdown = (tmp_path / "report.md").read_text()
    assert "photos without a face: 1 (a/1.jpg)" in markdown and "## Plots" not in markdown
