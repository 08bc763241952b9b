"""The training engine on real faces with the example plugin's tiny model: losses fall,
resume is bit-exact, checkpoints rotate, the export loads, EMA and accumulation work, and a
real two-process (gloo, CPU) accelerate run finishes and resumes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import zoo_core
from zoo_core import registry
from zoo_core.cli import cli
from zoo_core.errors import ConfigError, ZooError
from zoo_core.hookspecs import hookimpl
from zoo_core.specs import TrainerSpec
from zoo_core.train.engine import Engine, latest_checkpoint, train
from zoo_core.train.prepare import prepare_data


def losses(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]


def test_reconstruction_loss_falls(options, tmp_path):
    run = tmp_path / "run"
    final = train(options(run, max_steps=40))
    rec = [row["generator/reconstruction"] for row in losses(run)]
    assert np.mean(rec[-5:]) < 0.7 * np.mean(rec[:3])  # a clear drop, not a value
    model = zoo_core.load(f"local-dir:{final}")
    assert model.spec.name == "example-64"
    (checkpoint,) = (run / "checkpoints").iterdir()  # the final step is always checkpointed
    assert checkpoint.name == "step-00000040"


def test_stop_and_resume_is_exact(options, tmp_path):
    straight = tmp_path / "straight"
    train(options(straight, max_steps=10, checkpoint_every=5))
    interrupted = tmp_path / "interrupted"
    train(options(interrupted, max_steps=5, checkpoint_every=5))
    assert latest_checkpoint(interrupted).name == "step-00000005"
    engine = Engine(options(interrupted, max_steps=10, checkpoint_every=5, resume="latest"))
    engine.load_checkpoint(latest_checkpoint(interrupted))
    assert engine.state.step == 5
    next_batch = next(engine._batches(engine.state.step))
    reference = next(Engine(options(tmp_path / "scratch", max_steps=10))._batches(5))
    assert all(torch.equal(next_batch[k], reference[k]) for k in reference)  # the same next batch
    train(options(interrupted, max_steps=10, checkpoint_every=5, resume="latest"))
    a = zoo_core.load(f"local-dir:{straight / 'final'}").state_dict()
    b = zoo_core.load(f"local-dir:{interrupted / 'final'}").state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # bit for bit
    assert [r["step"] for r in losses(interrupted)] == [2, 4, 6, 8, 10]


def test_checkpoints_rotate_and_samples_are_written(options, tmp_path):
    run = tmp_path / "run"
    train(options(run, max_steps=8, checkpoint_every=2, keep_checkpoints=2, sample_every=4,
                  tracker="tensorboard"))
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000006", "step-00000008"]
    from PIL import Image

    sample = np.asarray(Image.open(run / "samples" / "step-00000008.png"))
    assert sample.shape == (6 * 64, 3 * 64, 3)  # source | target | swap, one row per pair
    assert any((run / "logs").rglob("events.out.tfevents.*"))
    assert json.loads((run / "train_config.json").read_text())["trainer"]["lr"] == 3e-3


@pytest.fixture
def ema_plugin(example_plugin):
    from zoo_plugin_example.train import ExampleTrainer

    class WithEma(ExampleTrainer):
        ema = {"swapper": 0.5}

        def build_schedulers(self, optimizers):
            return {"generator": torch.optim.lr_scheduler.StepLR(optimizers["generator"], step_size=2, gamma=0.1)}

    import types

    module = types.ModuleType("zoo_test_ema_trainer")
    module.WithEma = WithEma
    sys.modules["zoo_test_ema_trainer"] = module

    class Plugin:
        @hookimpl
        def register_trainers(self, register):
            register(TrainerSpec(name="example-64", trainer="zoo_test_ema_trainer:WithEma"))

    registry.add_plugin(Plugin(), name="ema")
    yield
    sys.modules.pop("zoo_test_ema_trainer", None)


def test_ema_scheduler_accumulation_and_bf16(ema_plugin, options, tmp_path):
    engine = Engine(options(tmp_path / "run", max_steps=4, grad_accum=2, mixed_precision="bf16"))
    assert type(engine.trainer).__name__ == "WithEma"  # the variant's trainer wins over the family's
    final = engine.run()
    exported = zoo_core.load(f"local-dir:{final}").state_dict()
    live = engine.accelerator.unwrap_model(engine.networks["swapper"]).state_dict()
    shadow = engine.ema["swapper"].shadow.state_dict()
    assert all(torch.allclose(exported[k], shadow[k]) for k in shadow)
    assert any(not torch.allclose(live[k], shadow[k]) for k in live)  # the export is the average
    lr = engine.optimizers["generator"].param_groups[0]["lr"]
    assert lr == pytest.approx(3e-3 * 0.1**2)  # the scheduler stepped once per optimizer step


def test_bad_configs_are_clear(options, tmp_path):
    with pytest.raises(ConfigError, match="invalid training config for example-64"):
        Engine(options(tmp_path / "r", trainer_config={"learning_rate": 1}))
    with pytest.raises(ZooError, match="no checkpoint to resume from"):
        train(options(tmp_path / "r2", resume="latest"))

    class NoTrainer:
        @hookimpl
        def register_models(self, register):
            from zoo_core.specs import ModelSpec

            register(ModelSpec(name="untrainable-64", family="untrainable", resolution=64,
                               builder="zoo_plugin_example.model:build", template="ffhq"))

    registry.add_plugin(NoTrainer(), name="notrainer")
    with pytest.raises(ZooError, match="no trainer is registered for 'untrainable-64'"):
        Engine(options(tmp_path / "r3", model="untrainable-64"))


def test_sharded_launches_are_refused(options, tmp_path, monkeypatch):
    import accelerate
    from accelerate.utils import DistributedType

    monkeypatch.setattr(accelerate.Accelerator, "distributed_type", property(lambda self: DistributedType.FSDP))
    with pytest.raises(ConfigError, match="data-parallel only .* not FSDP"):
        Engine(options(tmp_path / "run"))


def test_cli_train_with_yaml_and_set(example_plugin, aligned, tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text("max_steps: 3\nbatch_size: 4\ntracker: none\nnum_workers: 0\ntrainer:\n  lambda_id: 2.0\n")
    run = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train", "--model", "example-64", "--data", str(aligned), "--output", str(run),
                                      "--config", str(config), "--set", "lr=0.01", "--set", "model.channels=8",
                                      "--log-every", "1"])
    assert result.exit_code == 0, result.output
    saved = json.loads((run / "train_config.json").read_text())
    assert saved["trainer"]["lr"] == 0.01 and saved["trainer"]["lambda_id"] == 2.0
    assert saved["options"]["model_overrides"] == {"channels": 8} and saved["options"]["batch_size"] == 4
    assert zoo_core.load(f"local-dir:{run / 'final'}").config.channels == 8
    config.write_text("batch_size: 0\n")  # the command line's own checks are usage errors; the YAML's are these
    bad = CliRunner().invoke(cli, ["train", "--model", "example-64", "--data", str(aligned), "--output", str(run),
                                   "--config", str(config)])
    assert bad.exit_code == 1 and "invalid training options" in bad.output


def test_prepare_data_resumes_and_reports_faceless_photos(faces_dir, tmp_path):
    source = tmp_path / "src"
    shutil.copytree(faces_dir / "face_recognition" / "biden", source / "biden")
    (source / "wall").mkdir()
    from PIL import Image

    Image.fromarray(np.full((120, 160, 3), 90, np.uint8)).save(source / "wall" / "blank.jpg")
    out = tmp_path / "out"
    first = prepare_data(source, out, size=64, workers=1, progress=False)
    assert first.written == 2 and len(first.no_face) == 1
    assert "blank.jpg\tno face found" in (out / "skipped.tsv").read_text()
    assert sorted(p.name for p in (out / "biden").iterdir()) == ["biden.png", "biden2.png"]
    again = prepare_data(source, out, size=64, workers=1, progress=False)
    assert again.written == 0 and again.skipped_existing == 3


def test_two_process_cpu_run(installed_dists, aligned, tmp_path):
    """A real `accelerate launch --multi_gpu --num_processes 2` on the CPU: two gloo ranks, the
    default (tensorboard) tracker, then a resumed run to a later step."""
    run = tmp_path / "ddp"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    env.update({"PYTHONPATH": str(installed_dists), "ZOO_LOAD_PLUGINS": "example", "OMP_NUM_THREADS": "1"})
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "-m", "zoo_core", "train", "--model", "example-64", "--data", str(aligned), "--output", str(run),
               "--batch-size", "2", "--checkpoint-every", "2", "--num-workers", "0", "--log-every", "1"]
    result = subprocess.run([*command, "--max-steps", "2"], env=env, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-00000002"]
    assert (run / "final" / "model.safetensors").is_file() and any((run / "logs").rglob("events.out.tfevents.*"))
    result = subprocess.run([*command, "--max-steps", "3", "--resume"], env=env, capture_output=True, text=True,
                            timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = latest_checkpoint(run)
    assert checkpoint.name == "step-00000003"
    assert {p.name for p in checkpoint.glob("rng-*")} == {"rng-0.safetensors", "rng-1.safetensors"}
    assert [r["step"] for r in losses(run)] == [1, 2, 3]
