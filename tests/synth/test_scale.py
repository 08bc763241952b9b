"""``zoo synth run`` at scale, for real: a run killed with SIGKILL and resumed, and a two-process
``accelerate launch`` on the CPU taking one part of the plan per process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from zoo_core.cli import cli
from zoo_core.synth.plan import read_plan

from .conftest import TINY_SIMSWAP, zoo


def tiny_plan(people: Path, path: Path, *options: str) -> list[dict]:
    overrides = [a for item in TINY_SIMSWAP for a in ("--set", item)]
    result = CliRunner().invoke(cli, ["synth", "plan", str(people), "-o", str(path), "--methods", "simswap-224",
                                      "--random-init", *overrides, "--splits", "1,0,0", "--seed", "9", *options])
    assert result.exit_code == 0, result.output
    return read_plan(path)


def manifest_lines(dataset: Path) -> list[dict]:
    lines = []
    for path in sorted((dataset / "manifest").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                pass  # a line torn by the kill
    return lines


def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(plugins, people, tmp_path):
    plan = tmp_path / "plan.jsonl"
    rows = tiny_plan(people, plan, "--pairs-per-identity", "3", "--real", "--perturb", "GNC:2")
    dataset = tmp_path / "ds"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    process = subprocess.Popen([sys.executable, "-m", "zoo_core", "synth", "run", str(plan), "-o", str(dataset),
                                "--batch-size", "1", "--no-progress"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while len(manifest_lines(dataset) if (dataset / "manifest").is_dir() else []) < 3:
        assert process.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = {r["id"] for r in manifest_lines(dataset) if r["status"] == "done"}
    assert 3 <= len(before) < len(rows)
    summary = zoo("synth", "run", str(plan), "-o", str(dataset), "--no-progress").splitlines()[0]
    assert summary == f"written {len(rows) - len(before)}, skipped {len(before)} (done before), failed 0"
    done = [r["id"] for r in manifest_lines(dataset) if r["status"] == "done"]
    assert sorted(done) == sorted(r["id"] for r in rows)  # every row once: none lost, none rendered twice


def test_two_process_accelerate_launch_splits_the_plan(plugins, people, tmp_path):
    plan = tmp_path / "plan.jsonl"
    rows = tiny_plan(people, plan)
    dataset = tmp_path / "ds"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    env["OMP_NUM_THREADS"] = "1"
    result = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                             "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                             "-m", "zoo_core", "synth", "run", str(plan), "-o", str(dataset), "--no-progress"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    files = sorted((dataset / "manifest").glob("*.jsonl"))
    assert [f.name for f in files] == [f"shard-00000-of-00001-process-00{k}-of-002.jsonl" for k in range(2)]
    parts = [[json.loads(line)["id"] for line in f.read_text().splitlines()] for f in files]
    assert all(parts) and not set(parts[0]) & set(parts[1])
    assert sorted(parts[0] + parts[1]) == sorted(r["id"] for r in rows)
