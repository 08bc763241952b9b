"""Verbs about weights: ``zoo load``, ``convert``, ``push``."""

from __future__ import annotations

from pathlib import Path

import click

from zoo_core import registry
from zoo_core.cli.options import DEVICE, config_overrides, echo_json, parse_assignments


@click.command("load")
@click.argument("name_or_path")
@click.option("--revision", help="Branch, tag or commit (default: the spec's pinned commit, or main).")
@click.option("--local-files-only", is_flag=True, help="Never download; use the Hugging Face cache only.")
@click.option("--device", type=DEVICE, default="cpu", show_default=True, help="cpu, cuda, cuda:1, mps, ...")
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
        echo_json(summary)
        return
    for key in ("model", "folder", "parameters", "resolution", "capabilities", "template", "device"):
        value = summary[key]
        click.echo(f"{key}: {f'{value:,}' if key == 'parameters' and value is not None else value}")
    click.echo("files:")
    for name, meta in files.items():
        click.echo(f"  {name}  {meta['bytes']:,} bytes  sha256={meta['sha256']}")


@click.command("convert")
@click.argument("name")
@click.argument("files", nargs=-1, required=True)
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--converter", help="Converter name when the model has several (see zoo info).")
@click.option("--set", "overrides", multiple=True, help="Config override key=value (JSON values).")
def convert_command(name: str, files: tuple[str, ...], output: Path, converter: str | None, overrides: tuple[str, ...]) -> None:
    """Convert official checkpoints: zoo convert NAME ROLE=FILE [ROLE=FILE ...] --output DIR."""
    from zoo_core.convert import convert

    roles = parse_assignments(files, "ROLE=FILE")
    config = config_overrides(overrides)
    folder = convert(name, roles, output, converter=converter, config_overrides=config)
    if name in registry.get_registry().components and name not in registry.get_registry().models:
        click.echo(f"wrote {folder} (component weights: zoo_core.component_weights.load_component({name!r}, {str(folder)!r}))")
    else:
        click.echo(f"wrote {folder} (load it with: zoo load local-dir:{folder})")


@click.command("push")
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


