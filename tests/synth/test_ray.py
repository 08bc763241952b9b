"""``zoo synth run --executor ray``: a real local Ray cluster when ray[data] is installed; the
one-line error naming the extra when it is not."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from zoo_core.cli import cli
from zoo_core.synth.manifest import read_manifest
from zoo_core.synth.plan import read_plan

from .conftest import TINY_SIMSWAP


def tiny_plan(people, tmp_path):
    path = tmp_path / "plan.jsonl"
    overrides = [a for item in TINY_SIMSWAP for a in ("--set", item)]
    result = CliRunner().invoke(cli, ["synth", "plan", str(people), "-o", str(path), "--methods", "simswap-224",
                                      "--random-init", *overrides, "--splits", "1,0,0", "--real", "--seed", "10"])
    assert result.exit_code == 0, result.output
    return path


def test_without_ray_the_cli_names_the_extra(plugins, people, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    result = CliRunner().invoke(cli, ["synth", "run", str(tiny_plan(people, tmp_path)), "-o", str(tmp_path / "ds"),
                                      "--executor", "ray"])
    assert result.exit_code == 1
    assert result.output == "error: --executor ray needs 'ray[data]', which is not installed: pip install 'zoo-core[ray]'\n"


def test_ray_data_actors_render_the_plan(plugins, people, tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    path = tiny_plan(people, tmp_path)
    monkeypatch.delenv("ZOO_LOAD_PLUGINS")  # the actors load the installed plugins
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        result = CliRunner().invoke(cli, ["synth", "run", str(path), "-o", str(tmp_path / "ds"), "--executor", "ray",
                                          "--actors", "2", "--batch-size", "2", "--no-progress"])
    finally:
        ray.shutdown()
    assert result.exit_code == 0, result.output
    rows = read_plan(path)
    records = read_manifest(tmp_path / "ds")
    assert set(records) == {r["id"] for r in rows} and all(r["status"] == "done" for r in records.values())
    assert [p.name for p in (tmp_path / "ds" / "manifest").iterdir()] == ["shard-00000-of-00001-ray.jsonl"]
    again = CliRunner().invoke(cli, ["synth", "run", str(path), "-o", str(tmp_path / "ds"), "--no-progress"])
    assert f"written 0, skipped {len(rows)} (done before)" in again.output  # the local runner resumes it
