"""Training verbs: ``zoo train`` (the accelerate engine) and ``zoo prepare-data``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from zoo_core.cli.options import SEED, parse_assignments, parse_value
from zoo_core.errors import ZooError
from zoo_core.train.prepare import MIN_CROP_SIZE


def _load_yaml(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ZooError(f"{path}: cannot read the YAML config ({error})") from error
    if not isinstance(data, dict):
        raise ZooError(f"{path}: the config must be a mapping")
    return data


def _relaunch_with_accelerate(num_processes: int) -> None:
    """Run this same command under ``accelerate launch`` with N processes (one machine)."""
    argv = sys.argv[1:]
    cleaned = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--num-processes":
            skip = True
            continue
        if arg.startswith("--num-processes="):
            continue
        cleaned.append(arg)
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(num_processes),
               "--num_machines", "1", "--dynamo_backend", "no", "-m", "zoo_core", *cleaned]
    click.echo("$ " + " ".join(command), err=True)
    sys.exit(subprocess.run(command, check=False).returncode)


@click.command("train", context_settings={"show_default": True})
@click.option("--model", "model_name", required=True, help="Registered model variant to train.")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Aligned crops: DIR/<identity>/*.png or a flat folder (see zoo prepare-data).")
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=Path), help="Run folder.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML: engine options at the top level, 'trainer:' and 'model:' mappings.")
@click.option("--set", "overrides", multiple=True, help="key=value for the trainer config; model.key=value for the model.")
@click.option("--resume", is_flag=False, flag_value="latest", default=None, help="Resume from CKPT, or the latest checkpoint.")
@click.option("--max-steps", type=click.IntRange(min=1))
@click.option("--batch-size", type=click.IntRange(min=1))
@click.option("--grad-accum", type=click.IntRange(min=1))
@click.option("--mixed-precision", type=click.Choice(["no", "fp16", "bf16"]))
@click.option("--grad-clip", type=click.FloatRange(min=0, min_open=True))
@click.option("--seed", type=SEED)
@click.option("--checkpoint-every", type=click.IntRange(min=1))
@click.option("--keep-checkpoints", type=click.IntRange(min=1))
@click.option("--sample-every", type=click.IntRange(min=1))
@click.option("--log-every", type=click.IntRange(min=1))
@click.option("--tracker", type=click.Choice(["tensorboard", "wandb", "none"]))
@click.option("--num-workers", type=click.IntRange(min=0), help="Data-loading worker processes.")
@click.option("--cpu", is_flag=True, default=None, help="Train on the CPU even if a GPU is present.")
@click.option("--resolution", type=click.IntRange(min=8), help="Crop size fed to the model (default: the variant's resolution).")
@click.option("--num-processes", type=click.IntRange(min=1), help="Re-launch under accelerate with N processes on this machine.")
def train_command(model_name: str, data: Path, output: Path, config_file: Path | None, overrides: tuple[str, ...],
                  num_processes: int | None, **engine: Any) -> None:
    """Train a model with its plugin's Trainer on the accelerate engine."""
    if num_processes and num_processes > 1:
        _relaunch_with_accelerate(num_processes)
    from zoo_core.train.engine import TrainOptions, train

    settings = _load_yaml(config_file)
    trainer_config = dict(settings.pop("trainer", {}) or {})
    model_overrides = dict(settings.pop("model", {}) or {})
    for key, value in parse_assignments(overrides, "key=value").items():
        if key.startswith("model."):
            model_overrides[key[len("model."):]] = parse_value(value)
        else:
            trainer_config[key] = parse_value(value)
    settings.update({k: v for k, v in engine.items() if v is not None})
    try:
        options = TrainOptions(model=model_name, data=data, output=output, trainer_config=trainer_config,
                               model_overrides=model_overrides, **settings)
    except ValueError as error:
        raise ZooError(f"invalid training options: {error}") from error
    final = train(options)
    if os.environ.get("RANK", "0") == "0":  # one line per run, not per process
        click.echo(f"wrote {final} (zoo load local-dir:{final}; zoo swap --model local-dir:{final} ...)")


@click.command("prepare-data")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path))
@click.option("--template", default="ffhq", show_default=True, help="Alignment template (zoo info TEMPLATE).")
@click.option("--size", type=click.IntRange(min=MIN_CROP_SIZE), default=256, show_default=True, help="Crop size in pixels.")
@click.option("--workers", type=click.IntRange(min=1), help="Parallel worker processes (default: up to 4).")
@click.option("--detector", default="dlib-hog", show_default=True)
def prepare_data_command(source: Path, destination: Path, template: str, size: int, workers: int | None, detector: str) -> None:
    """Align every photo of SOURCE (identity folders kept) into DESTINATION, once."""
    from zoo_core.train.prepare import prepare_data

    report = prepare_data(source, destination, template, size, workers, detector)
    click.echo(f"aligned {report.written}, already there {report.skipped_existing}, no face {len(report.no_face)}"
               + (f" (listed in {destination / 'skipped.tsv'})" if report.no_face else ""))


