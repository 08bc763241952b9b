"""The ``zoo`` command line: one small click function per verb; the work lives in the modules.

Exit codes: 0 success, 2 usage error, 1 runtime error printed as one ``error: ...`` line
(the traceback only with ``--debug`` or ``ZOO_DEBUG=1``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from zoo_core import registry
from zoo_core.errors import ZooError
from zoo_core.evaluate.command import evaluate_command
from zoo_core.mix_command import mix_command


def _debug_enabled(ctx: click.Context | None = None) -> bool:
    if os.environ.get("ZOO_DEBUG", "").strip() not in {"", "0"}:
        return True
    return bool(ctx and ctx.find_root().params.get("debug"))


class ZooGroup(click.Group):
    """Turns any runtime error into one ``error:`` line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as error:
            if _debug_enabled(ctx):
                traceback.print_exc()
            message = str(error) if isinstance(error, ZooError) else f"{type(error).__name__}: {error}"
            click.echo(f"error: {' '.join(message.split())}", err=True)
            ctx.exit(1)


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors (or set ZOO_DEBUG=1).")
@click.version_option(package_name="zoo-core", prog_name="zoo")
def cli(debug: bool) -> None:
    """FaceSwap Zoo: face-swap models from installed plugins."""


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _warn_problems() -> None:
    reg = registry.get_registry()
    for info in reg.plugins.problems:
        click.echo(f"warning: plugin {info.name!r} ({info.distribution}) not loaded: {info.error}", err=True)
    for message in reg.errors:
        click.echo(f"warning: {message}", err=True)


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


NO_PLUGIN_HINT = (
    "No model plugin is installed. Install one, e.g. 'zoo install zoo-plugin-simswap' "
    "(or from a source checkout: pip install ./plugins/simswap); 'zoo plugins' shows what is loaded."
)


@cli.command("list")
@click.argument("pattern", required=False, default="")
@click.option("--pretrained", is_flag=True, help="Only models with published weights.")
@click.option("--capability", help="Only models with this capability (swap, deidentify, mix, diffusion, generate).")
@click.option("--plugin", help="Only models of this distribution.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_command(pattern: str, pretrained: bool, capability: str | None, plugin: str | None, as_json: bool) -> None:
    """List model variants (fnmatch PATTERN, e.g. 'simswap-*')."""
    names = registry.list_models(pattern, pretrained=pretrained, capability=capability, plugin=plugin)
    specs = [registry.get_model_spec(name) for name in names]
    _warn_problems()
    if as_json:
        _echo_json([spec.model_dump(mode="json", include=_LIST_FIELDS) | {"pretrained": spec.pretrained} for spec in specs])
        return
    if not specs:
        click.echo(NO_PLUGIN_HINT if not registry.get_registry().models else "No model matches.")
        return
    rows = [
        [s.name, s.family, str(s.resolution), ",".join(sorted(s.capabilities)), "yes" if s.pretrained else "no", s.plugin]
        for s in specs
    ]
    _table(rows, ["name", "family", "res", "capabilities", "pretrained", "plugin"])


_LIST_FIELDS = {"name", "family", "resolution", "capabilities", "template", "identity_encoder", "plugin"}


@cli.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info_command(name: str, as_json: bool) -> None:
    """Show everything about one model (or component): weights, template, converter roles."""
    reg = registry.get_registry()
    if name not in reg.models and name in reg.components:
        spec = registry.get_component_spec(name)
        _echo_json(spec.model_dump(mode="json")) if as_json else _print_fields(spec.model_dump(mode="json"))
        return
    spec = registry.get_model_spec(name)
    converters = registry.get_converters(name)
    if as_json:
        trainer = reg.trainers.get(spec.name) or reg.trainers.get(spec.family)
        data = spec.model_dump(mode="json") | {"pretrained": spec.pretrained, "trainer": trainer.trainer if trainer else None}
        data["converters"] = [c.model_dump(mode="json") for c in converters]
        _echo_json(data)
        return
    fields = spec.model_dump(mode="json", exclude={"converter", "weights", "default_config"})
    fields["capabilities"] = ", ".join(sorted(spec.capabilities))
    _print_fields(fields)
    click.echo("default_config:")
    for key, value in spec.default_config.items():
        click.echo(f"  {key}: {json.dumps(value)}")
    trainer = reg.trainers.get(spec.name) or reg.trainers.get(spec.family)
    click.echo(f"trainer: {trainer.trainer if trainer else 'none (this plugin does not train it yet)'}")
    if spec.weights:
        w = spec.weights
        click.echo(f"weights: {w.repo_id}@{w.revision} (licence {w.license})")
        for f in w.files:
            click.echo(f"  {f.filename}  sha256={f.sha256 or '-'}")
    else:
        click.echo("weights: none published (convert official weights or train)")
    for conv in converters:
        roles = " ".join(f"{role}=FILE" for role in conv.roles)
        click.echo(f"converter {conv.name}: zoo convert {name} {roles} --output DIR")
        for role, rspec in conv.roles.items():
            optional = "" if rspec.required else " (optional)"
            example = f" e.g. {rspec.example}" if rspec.example else ""
            click.echo(f"  {role}: {rspec.description}{example}{optional}")


def _print_fields(fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        if value not in (None, "", [], {}):
            click.echo(f"{key}: {value if isinstance(value, str) else json.dumps(value)}")


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_command(as_json: bool) -> None:
    """List loaded plugins and the ones that failed to load."""
    reg = registry.get_registry()
    infos = reg.plugins.plugins
    if as_json:
        _echo_json({
            "plugins": [
                {"name": i.name, "distribution": i.distribution, "version": i.version, "module": i.module,
                 "hooks": list(i.hooks), "error": i.error}
                for i in infos
            ],
            "errors": reg.errors,
        })
        return
    rows = [[i.name, i.distribution, i.version, ",".join(i.hooks) if i.loaded else f"ERROR: {i.error}"] for i in infos]
    _table(rows, ["name", "distribution", "version", "hooks"])
    for message in reg.errors:
        click.echo(f"error: {message}")


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", *args]
    click.echo("$ " + " ".join(command), err=True)
    result = subprocess.run(command, check=False)
    if result.returncode:
        raise ZooError(f"pip {args[0]} failed with exit code {result.returncode}")


@cli.command("install")
@click.argument("packages", nargs=-1, required=True)
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade if already installed.")
@click.option("-e", "--editable", is_flag=True, help="Install a local plugin folder in editable mode.")
def install_command(packages: tuple[str, ...], upgrade: bool, editable: bool) -> None:
    """Install plugin packages into zoo's own Python environment (pip install)."""
    args = ["install", *(["--upgrade"] if upgrade else [])]
    for package in packages:
        args += ["-e", package] if editable else [package]
    _pip(*args)


@cli.command("uninstall")
@click.argument("packages", nargs=-1, required=True)
def uninstall_command(packages: tuple[str, ...]) -> None:
    """Uninstall plugin packages from zoo's Python environment (pip uninstall -y)."""
    _pip("uninstall", "-y", *packages)


@cli.command("load")
@click.argument("name_or_path")
@click.option("--revision", help="Branch, tag or commit (default: the spec's pinned commit, or main).")
@click.option("--local-files-only", is_flag=True, help="Never download; use the Hugging Face cache only.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def load_command(name_or_path: str, revision: str | None, local_files_only: bool, device: str, as_json: bool) -> None:
    """Fetch, verify and load a model: NAME, hf-hub:ORG/REPO[@REV] or local-dir:PATH."""
    from zoo_core import hub
    from zoo_core.serialization import sha256_file

    model, folder = hub.load_with_folder(name_or_path, revision, device, local_files_only or None)
    spec = model.spec
    files = {
        path.name: {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
        for path in sorted(folder.iterdir())
        if path.is_file() and not path.name.startswith(".")
    }
    summary = {
        "model": spec.name,
        "folder": str(folder),
        "parameters": sum(p.numel() for p in model.parameters()) if hasattr(model, "parameters") else None,
        "resolution": spec.resolution,
        "capabilities": sorted(spec.capabilities),
        "template": spec.template,
        "device": device,
        "files": files,
    }
    if as_json:
        _echo_json(summary)
        return
    for key in ("model", "folder", "parameters", "resolution", "capabilities", "template", "device"):
        value = summary[key]
        click.echo(f"{key}: {f'{value:,}' if key == 'parameters' and value is not None else value}")
    click.echo("files:")
    for name, meta in files.items():
        click.echo(f"  {name}  {meta['bytes']:,} bytes  sha256={meta['sha256']}")


def _parse_assignments(items: tuple[str, ...], what: str) -> dict[str, str]:
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected {what}, got {item!r}")
        result[key] = value
    return result


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@cli.command("convert")
@click.argument("name")
@click.argument("files", nargs=-1, required=True)
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--converter", help="Converter name when the model has several (see zoo info).")
@click.option("--set", "overrides", multiple=True, help="Config override key=value (JSON values).")
def convert_command(name: str, files: tuple[str, ...], output: Path, converter: str | None, overrides: tuple[str, ...]) -> None:
    """Convert official checkpoints: zoo convert NAME ROLE=FILE [ROLE=FILE ...] --output DIR."""
    from zoo_core.convert import convert

    roles = _parse_assignments(files, "ROLE=FILE")
    config = {k: _parse_value(v) for k, v in _parse_assignments(overrides, "key=value").items()}
    folder = convert(name, roles, output, converter=converter, config_overrides=config)
    if name in registry.get_registry().components and name not in registry.get_registry().models:
        click.echo(f"wrote {folder} (component weights: zoo_core.component_weights.load_component({name!r}, {str(folder)!r}))")
    else:
        click.echo(f"wrote {folder} (load it with: zoo load local-dir:{folder})")


@cli.command("push")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("repo_id")
@click.option("--private", is_flag=True, help="Create the repository as private.")
@click.option("--revision", help="Branch to push to (created if missing).")
@click.option("--message", "-m", help="Commit message.")
@click.option("--token", envvar="HF_TOKEN", help="Hub token (default: HF_TOKEN or the saved login).")
def push_command(folder: Path, repo_id: str, private: bool, revision: str | None, message: str | None, token: str | None) -> None:
    """Upload a saved model folder (weights, config, card as README) to the Hub."""
    from zoo_core import hub

    url = hub.push_to_hub(folder, repo_id, private=private, revision=revision, commit_message=message, token=token)
    click.echo(f"pushed {folder} to {repo_id}: {url}")


def _weights_label(name_or_path: str, folder: Path) -> str:
    """What produced the weights, for provenance: source and content digest."""
    from zoo_core import hub
    from zoo_core.serialization import sha256_file

    files = hub.weight_files(folder)
    digest = sha256_file(folder / hub.WEIGHTS_INDEX_NAME if len(files) > 1 else files[0])
    snapshot = f"@{folder.name}" if folder.parent.name == "snapshots" else ""
    return f"{name_or_path}{snapshot} sha256:{digest}"


def load_for_faces(model_name: str, *, random_init: bool, weight_seed: int, device: str, revision: str | None,
                   local_files_only: bool, overrides: tuple[str, ...] = (), capability: str | None = None) -> tuple[Any, str]:
    """The model of a face-pipeline verb (swap, deid, mix) and its provenance label: random
    weights seeded with ``weight_seed``, or the pretrained ones; ``overrides``: ``key=value``."""
    from zoo_core import hub

    config = {key: _parse_value(value) for key, value in _parse_assignments(overrides, "key=value").items()}
    if capability and random_init and capability not in registry.get_model_spec(model_name).capabilities:
        raise ZooError(f"--model {model_name}: this model has no {capability!r} capability")
    if random_init:
        import torch

        torch.manual_seed(weight_seed)
        model = registry.create_model(model_name, **config).to(device).eval()
        click.echo(f"warning: {model_name} has random weights: the geometry is real, the face content is meaningless", err=True)
        return model, "random-init"
    model, folder = hub.load_with_folder(model_name, revision, device, local_files_only or None,
                                         config_overrides=config or None)
    return model, _weights_label(model_name, folder)


@cli.command("swap")
@click.option("--model", "model_name", required=True, help="NAME, hf-hub:ORG/REPO[@REV] or local-dir:PATH.")
@click.option("--source", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Photo giving the identity.")
@click.option("--target", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Photo or video to change.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--face-index", type=int, help="Swap the N-th target face (0 = largest; faces are ordered by size times confidence).")
@click.option("--all-faces", is_flag=True, help="Swap every target face.")
@click.option("--reference", type=click.Path(dir_okay=False, path_type=Path), help="Swap the target face most like this photo.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1, ...")
@click.option("--batch-size", default=8, show_default=True, help="Faces per model call (video frames are batched).")
@click.option("--seed", type=int, help="Seed for stochastic models (recorded in the output's metadata).")
@click.option("--revision", help="Branch, tag or commit of the weights.")
@click.option("--local-files-only", is_flag=True, help="Never download weights.")
@click.option("--detector", default="dlib-hog", show_default=True, help="Face detector component (zoo info NAME).")
@click.option("--color-match", is_flag=True, help="Match the swapped face's colours to the target's.")
@click.option("--smooth", default=0.5, show_default=True, help="Video landmark smoothing: weight of the new frame (1 = off).")
@click.option("--random-init", is_flag=True, help="Use random weights (testing the pipeline: the face content is meaningless).")
@click.option("--set", "overrides", multiple=True,
              help="Model config override key=value (JSON values), e.g. sampling steps of a diffusion model.")
def swap_command(model_name: str, source: Path, target: Path, output: Path, face_index: int | None, all_faces: bool,
                 reference: Path | None, device: str, batch_size: int, seed: int | None, revision: str | None,
                 local_files_only: bool, detector: str, color_match: bool, smooth: float, random_init: bool,
                 overrides: tuple[str, ...]) -> None:
    """Swap the identity of SOURCE into the face(s) of TARGET (photo or video)."""
    from zoo_core.faces.swapper import FaceSwapper, Selection
    from zoo_core.faces.video import is_video

    selection = Selection(face_index=face_index, all_faces=all_faces, reference=reference)
    model, weights = load_for_faces(model_name, random_init=random_init, weight_seed=0 if seed is None else seed,
                                    device=device, revision=revision, local_files_only=local_files_only,
                                    overrides=overrides)
    swapper = FaceSwapper(model, detector=detector, device=device, batch_size=batch_size, color_match=color_match,
                          weights=weights, seed=seed)
    if is_video(target):
        swapper.swap_video(source, target, output, selection, smooth=smooth)
    else:
        swapper.swap_image_file(source, target, output, selection)
    click.echo(f"wrote {output}")


def _variant_paths(output: Path, num: int) -> list[Path]:
    """``out.png`` for one variant, ``out-0.png`` ... ``out-{num-1}.png`` for several."""
    if num == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{i}{output.suffix}") for i in range(num)]


@cli.command("deid")
@click.option("--model", "model_name", required=True, help="NAME, hf-hub:ORG/REPO[@REV] or local-dir:PATH of a model with the 'deidentify' capability.")
@click.option("--target", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Photo or video to de-identify.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output file; with --num N > 1, OUTPUT's stem gets -0 ... -(N-1).")
@click.option("--face-index", type=int, help="De-identify the N-th face (0 = largest; faces are ordered by size times confidence).")
@click.option("--all-faces", is_flag=True, help="De-identify every face (each gets its own virtual identity).")
@click.option("--reference", type=click.Path(dir_okay=False, path_type=Path), help="De-identify the face most like this photo.")
@click.option("--seed", type=int, help="Seed of the virtual identities (default: random, printed and recorded in the output's metadata).")
@click.option("--num", default=1, show_default=True, type=click.IntRange(min=1), help="Variants with seeds SEED, SEED+1, ...")
@click.option("--levels", help="Only these identity levels, e.g. low,mid (models whose deidentify takes 'levels', such as StyleFace).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1, ...")
@click.option("--revision", help="Branch, tag or commit of the weights.")
@click.option("--local-files-only", is_flag=True, help="Never download weights.")
@click.option("--detector", default="dlib-hog", show_default=True, help="Face detector component (zoo info NAME).")
@click.option("--color-match", is_flag=True, help="Match the new face's colours to the original's.")
@click.option("--smooth", default=0.5, show_default=True, help="Video landmark smoothing: weight of the new frame (1 = off).")
@click.option("--random-init", is_flag=True, help="Use random weights seeded with 0 (testing the pipeline: the face content is meaningless).")
def deid_command(model_name: str, target: Path, output: Path, face_index: int | None, all_faces: bool,
                 reference: Path | None, seed: int | None, num: int, levels: str | None, device: str,
                 revision: str | None, local_files_only: bool, detector: str, color_match: bool, smooth: float,
                 random_init: bool) -> None:
    """Replace the identity of the face(s) in TARGET (photo or video) by sampled virtual ones.

    A video keeps one virtual identity per selected face across all its frames.
    """
    import inspect
    import secrets

    from zoo_core.faces.detect import create_detector
    from zoo_core.faces.swapper import FaceDeidentifier, Selection
    from zoo_core.faces.video import is_video

    selection = Selection(face_index=face_index, all_faces=all_faces, reference=reference)
    if seed is None:
        seed = secrets.randbelow(2**31)
        click.echo(f"seed: {seed}", err=True)
    # random weights do not depend on --seed, which only picks the identities
    model, weights = load_for_faces(model_name, random_init=random_init, weight_seed=0, device=device,
                                    revision=revision, local_files_only=local_files_only, capability="deidentify")
    options: dict[str, Any] = {}
    if levels is not None:
        if "levels" not in inspect.signature(model.deidentify).parameters:
            raise ZooError(f"--levels: {model.spec.name} has no identity levels to choose from")
        options["levels"] = tuple(part.strip() for part in levels.split(","))
    faces = create_detector(detector)
    for variant, path in enumerate(_variant_paths(output, num)):
        worker = FaceDeidentifier(model, seed + variant, options, detector=faces, device=device,
                                  color_match=color_match, weights=weights)
        if is_video(target):
            worker.deidentify_video(target, path, selection, smooth=smooth)
        else:
            worker.deidentify_image_file(target, path, selection)
        click.echo(f"wrote {path} (seed {seed + variant})")


@cli.command("inspect")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def inspect_command(file: Path, as_json: bool) -> None:
    """Print the provenance a zoo output carries (model, weights, seed, version, date)."""
    from zoo_core.faces.io import read_provenance

    data = read_provenance(file)
    if as_json:
        _echo_json(data)
    elif data is None:
        click.echo(f"{file}: no FaceSwap Zoo provenance")
    else:
        for key, value in sorted(data.items()):
            click.echo(f"{key}: {value}")


def _load_yaml(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
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


@cli.command("train", context_settings={"show_default": True})
@click.option("--model", "model_name", required=True, help="Registered model variant to train.")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Aligned crops: DIR/<identity>/*.png or a flat folder (see zoo prepare-data).")
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=Path), help="Run folder.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML: engine options at the top level, 'trainer:' and 'model:' mappings.")
@click.option("--set", "overrides", multiple=True, help="key=value for the trainer config; model.key=value for the model.")
@click.option("--resume", is_flag=False, flag_value="latest", default=None, help="Resume from CKPT, or the latest checkpoint.")
@click.option("--max-steps", type=int)
@click.option("--batch-size", type=int)
@click.option("--grad-accum", type=int)
@click.option("--mixed-precision", type=click.Choice(["no", "fp16", "bf16"]))
@click.option("--grad-clip", type=float)
@click.option("--seed", type=int)
@click.option("--checkpoint-every", type=int)
@click.option("--keep-checkpoints", type=int)
@click.option("--sample-every", type=int)
@click.option("--log-every", type=int)
@click.option("--tracker", type=click.Choice(["tensorboard", "wandb", "none"]))
@click.option("--num-workers", type=int, help="Data-loading worker processes.")
@click.option("--cpu", is_flag=True, default=None, help="Train on the CPU even if a GPU is present.")
@click.option("--resolution", type=int, help="Crop size fed to the model (default: the variant's resolution).")
@click.option("--num-processes", type=int, help="Re-launch under accelerate with N processes on this machine.")
def train_command(model_name: str, data: Path, output: Path, config_file: Path | None, overrides: tuple[str, ...],
                  num_processes: int | None, **engine: Any) -> None:
    """Train a model with its plugin's Trainer on the accelerate engine."""
    if num_processes and num_processes > 1:
        _relaunch_with_accelerate(num_processes)
    from zoo_core.train.engine import TrainOptions, train

    settings = _load_yaml(config_file)
    trainer_config = dict(settings.pop("trainer", {}) or {})
    model_overrides = dict(settings.pop("model", {}) or {})
    for key, value in _parse_assignments(overrides, "key=value").items():
        if key.startswith("model."):
            model_overrides[key[len("model."):]] = _parse_value(value)
        else:
            trainer_config[key] = _parse_value(value)
    settings.update({k: v for k, v in engine.items() if v is not None})
    try:
        options = TrainOptions(model=model_name, data=data, output=output, trainer_config=trainer_config,
                               model_overrides=model_overrides, **settings)
    except ValueError as error:
        raise ZooError(f"invalid training options: {error}") from error
    final = train(options)
    if os.environ.get("RANK", "0") == "0":  # one line per run, not per process
        click.echo(f"wrote {final} (zoo load local-dir:{final}; zoo swap --model local-dir:{final} ...)")


@cli.command("prepare-data")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path))
@click.option("--template", default="ffhq", show_default=True, help="Alignment template (zoo info TEMPLATE).")
@click.option("--size", default=256, show_default=True, help="Crop size in pixels.")
@click.option("--workers", type=int, help="Parallel worker processes (default: up to 4).")
@click.option("--detector", default="dlib-hog", show_default=True)
def prepare_data_command(source: Path, destination: Path, template: str, size: int, workers: int | None, detector: str) -> None:
    """Align every photo of SOURCE (identity folders kept) into DESTINATION, once."""
    from zoo_core.train.prepare import prepare_data

    report = prepare_data(source, destination, template, size, workers, detector)
    click.echo(f"aligned {report.written}, already there {report.skipped_existing}, no face {len(report.no_face)}"
               + (f" (listed in {destination / 'skipped.tsv'})" if report.no_face else ""))


cli.add_command(evaluate_command)
cli.add_command(mix_command)


def _add_plugin_commands(group: click.Group) -> None:
    plugins = registry.get_plugins()
    for impl in plugins.manager.hook.register_commands.get_hookimpls():
        try:
            impl.function(cli=group)
        except Exception as error:  # a broken plugin must not break the CLI
            click.echo(f"warning: plugin {impl.plugin_name!r} failed to add commands: {error}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Console entry point of ``zoo``."""
    try:
        _add_plugin_commands(cli)
    except ZooError as error:  # ZOO_STRICT_PLUGINS=1 with a broken plugin
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    cli.main(args=argv, prog_name="zoo")
