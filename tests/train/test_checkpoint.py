"""Checkpoints of the training engine: no file of a run folder is ever unpickled unrestricted,
corrupt checkpoints are refused (or skipped by --resume latest) with the file named, the loss
log restarts at the resumed step, and one output folder takes one run at a time."""

from __future__ import annotations

import builtins
import fcntl
import json
import pickle
import re
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from zoo_core.cli import cli
from zoo_core.errors import ZooError, ZooWarning
from zoo_core.train.checkpoint import write_manifest
from zoo_core.train.engine import latest_checkpoint, train

# what accelerate's load_state reads: its pickles (custom objects, random states) and state files
ACCELERATE_PICKLES = ("custom_checkpoint_0.pkl", "random_states_0.pkl")
ACCELERATE_FILES = (*ACCELERATE_PICKLES, "custom_checkpoint_1.pkl", "optimizer.bin", "scaler.pt", "model.safetensors")


class Payload:
    """Unpickled without restriction, creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return builtins.open, (str(self.marker), "w")


def plant(path: Path, marker: Path) -> None:
    """Replace ``path`` by a payload: a torch.save archive for torch files, a raw pickle otherwise."""
    if path.suffix in (".pt", ".bin"):
        torch.save({"state": Payload(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(Payload(marker)))


def steps(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "losses.jsonl").read_text().splitlines()]


def test_planted_pickles_never_run(options, tmp_path):
    run, marker = tmp_path / "run", tmp_path / "payload-ran"
    train(options(run, max_steps=4, checkpoint_every=2))
    for name in ACCELERATE_PICKLES:  # beside a whole checkpoint: never read
        plant(latest_checkpoint(run) / name, marker)
    train(options(run, max_steps=6, checkpoint_every=2, resume="latest"))
    assert not marker.exists() and steps(run) == [2, 4, 6]
    latest = latest_checkpoint(run)
    files = sorted(p for p in latest.iterdir() if p.is_file())
    assert len(files) >= 4
    for path in [*files, *(latest / name for name in ACCELERATE_FILES)]:  # every file: skipped as corrupt
        plant(path, marker)
    with pytest.warns(ZooWarning, match=r"step-00000006.*resuming from .*step-00000004 instead"):
        train(options(run, max_steps=8, checkpoint_every=2, resume="latest"))
    assert not marker.exists()
    assert latest_checkpoint(run).name == "step-00000008" and steps(run) == [2, 4, 6, 8]


def test_each_file_with_a_payload_is_refused_by_name(options, tmp_path):
    """Even with a manifest that matches the planted files, every reader refuses its payload."""
    run, marker = tmp_path / "run", tmp_path / "payload-ran"
    train(options(run, max_steps=2, checkpoint_every=2))
    names = sorted(p.name for p in latest_checkpoint(run).iterdir() if p.name != "manifest.json")
    assert {"zoo_state.json", "network-swapper.safetensors", "optimizer-generator.pt", "rng-0.safetensors"} <= set(names)
    for name in names:
        folder = tmp_path / f"planted-{name}"
        shutil.copytree(latest_checkpoint(run), folder)
        plant(folder / name, marker)
        write_manifest(folder)
        with pytest.raises(ZooError) as caught:
            train(options(tmp_path / "resumed", max_steps=4, resume=str(folder)))
        assert str(folder / name) in str(caught.value) and "\n" not in str(caught.value)
        assert not marker.exists()


def test_corrupt_latest_is_skipped_and_refused_when_named(options, tmp_path):
    run = tmp_path / "run"
    train(options(run, max_steps=4, checkpoint_every=2))
    latest = latest_checkpoint(run)
    weights = latest / "network-swapper.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ZooError, match=f"{re.escape(str(weights))}: .*truncated"):
        train(options(run, max_steps=6, resume=str(latest)))
    args = ["train", "--model", "example-64", "--data", str(options(run).data), "--output", str(run),
            "--tracker", "none", "--num-workers", "0", "--batch-size", "6", "--log-every", "2",
            "--checkpoint-every", "2", "--max-steps", "4", "--resume"]
    result = CliRunner().invoke(cli, [*args, str(latest)])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert result.output.startswith("error: ") and str(weights) in result.output
    result = CliRunner().invoke(cli, args)  # --resume: the latest valid checkpoint
    assert result.exit_code == 0, result.output
    (warning,) = [line for line in result.output.splitlines() if "warning" in line]
    assert warning.startswith(f"warning: {weights}: ") and warning.endswith(
        f"resuming from {latest.parent / 'step-00000002'} instead")
    assert steps(run) == [2, 4]
    shutil.rmtree(latest.parent / "step-00000002")  # the rewritten step 4 is whole again
    train(options(run, max_steps=6, checkpoint_every=2, resume="latest"))
    assert latest_checkpoint(run).name == "step-00000006"


def test_empty_random_state_file_is_refused(options, tmp_path):
    run = tmp_path / "run"
    train(options(run, max_steps=2, checkpoint_every=2))
    latest = latest_checkpoint(run)
    (rng := latest / "rng-0.safetensors").write_bytes(b"")
    with pytest.raises(ZooError, match=f"{re.escape(str(rng))}: 0 bytes where the manifest says"):
        train(options(run, max_steps=4, resume=str(latest)))
    write_manifest(latest)  # a manifest that agrees does not make the empty file usable
    with pytest.raises(ZooError, match=f"{re.escape(str(rng))}: empty file"):
        train(options(run, max_steps=4, resume=str(latest)))


def test_loss_log_restarts_at_the_resumed_step(options, tmp_path):
    run = tmp_path / "run"
    train(options(run, max_steps=8, checkpoint_every=4))
    uninterrupted = (run / "losses.jsonl").read_text()
    train(options(run, max_steps=8, checkpoint_every=4, resume=str(run / "checkpoints" / "step-00000004")))
    assert steps(run) == [2, 4, 6, 8]
    assert (run / "losses.jsonl").read_text() == uninterrupted  # the same rows again, bit for bit


def test_one_run_per_output_folder(options, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with open(run / ".lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running zoo train does
        with pytest.raises(ZooError, match=f"{re.escape(str(run))}: another zoo train run is writing to this output folder"):
            train(options(run, max_steps=2))
        args = ["train", "--model", "example-64", "--data", str(options(run).data), "--output", str(run),
                "--tracker", "none", "--num-workers", "0", "--max-steps", "2"]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1 and result.output.count("\n") == 1 and str(run) in result.output
        assert not (run / "checkpoints").exists()
    train(options(run, max_steps=2))  # released: the folder is free again
    assert latest_checkpoint(run).name == "step-00000002"


def test_a_fresh_run_never_mixes_with_an_earlier_one(options, tmp_path):
    """Without --resume, a folder holding checkpoints is refused: a new run would interleave its
    checkpoints with the earlier run's and rotation could delete the new ones."""
    run = tmp_path / "run"
    train(options(run, max_steps=4, checkpoint_every=2))
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    with pytest.raises(ZooError, match=r"holds an earlier run \(checkpoints up to step-00000004\).*--resume"):
        train(options(run, max_steps=1))
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before
    train(options(run, max_steps=6, checkpoint_every=2, resume="latest"))
    assert latest_checkpoint(run).name == "step-00000006"
