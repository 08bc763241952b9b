"""Verbs about weights: ``zoo load``, ``download``, ``convert``, ``push``, ``cache``."""

from __future__ import annotations

from pathlib import Path

import click

from zoo_core import registry
from zoo_core.cli.options import DEVICE, config_overrides, echo_json, parse_assignments, table
from zoo_core.errors import ZooError

FROM_FILE = click.option("--from", "from_files", multiple=True, metavar="ROLE=FILE",
                         help="Use this file for a converter role instead of downloading it (manual sources).")
ACCEPT = click.option("--accept-sha256", "accept", multiple=True, metavar="HEX",
                      help="Accept a download with this sha256 in place of the published one (recorded in provenance).")


def _weights_inputs(from_files: tuple[str, ...], accept: tuple[str, ...]) -> tuple[dict[str, str], frozenset[str]]:
    hashes = frozenset(value.strip().lower() for value in accept)
    bad = sorted(value for value in hashes if len(value) != 64 or set(value) - set("0123456789abcdef"))
    if bad:
        raise click.BadParameter(f"{bad[0]!r} is not a sha256 (64 hex digits)", param_hint="--accept-sha256")
    return parse_assignments(from_files, "ROLE=FILE"), hashes


@click.command("load")
@click.argument("name_or_path")
@click.option("--revision", help="Branch, tag or commit (default: the spec's pinned commit, or main).")
@click.option("--local-files-only", is_flag=True, help="Never download; use the caches only.")
@FROM_FILE
@ACCEPT
@click.option("--device", type=DEVICE, default="cpu", show_default=True, help="cpu, cuda, cuda:1, mps, ...")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def load_command(name_or_path: str, revision: str | None, local_files_only: bool, from_files: tuple[str, ...],
                 accept: tuple[str, ...], device: str, as_json: bool) -> None:
    """Fetch, verify and load a model: NAME, hf-hub:ORG/REPO[@REV] or local-dir:PATH.

    A NAME with official sources is downloaded, verified, converted once and cached
    ($ZOO_CACHE); later loads read the cache."""
    from zoo_core import hub
    from zoo_core.factory import load_pretrained
    from zoo_core.serialization import sha256_file

    files, accepted = _weights_inputs(from_files, accept)
    if registry.is_model(name_or_path):
        spec = registry.get_model_spec(name_or_path)
        if not spec.needs_weights:
            raise ZooError(f"{spec.name} has no learned parameters: there are no weights to load (use it directly)")
        model, label, folder = load_pretrained(spec, revision, device, local_files_only or None, files=files,
                                               accept_sha256=accepted)
    else:
        if files or accepted:
            raise click.UsageError("--from and --accept-sha256 apply to registry names with official sources")
        model, folder = hub.load_with_folder(name_or_path, revision, device, local_files_only or None)
        label = hub.weights_label(name_or_path, folder)
    spec = model.spec
    files_info = {
        path.name: {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
        for path in sorted(folder.iterdir())
        if path.is_file() and not path.name.startswith(".")
    }
    summary = {
        "model": spec.name,
        "folder": str(folder),
        "weights": label,
        "parameters": sum(p.numel() for p in model.parameters()) if hasattr(model, "parameters") else None,
        "resolution": spec.resolution,
        "capabilities": sorted(spec.capabilities),
        "template": spec.template,
        "device": device,
        "files": files_info,
    }
    if as_json:
        echo_json(summary)
        return
    for key in ("model", "folder", "weights", "parameters", "resolution", "capabilities", "template", "device"):
        value = summary[key]
        click.echo(f"{key}: {f'{value:,}' if key == 'parameters' and value is not None else value}")
    click.echo("files:")
    for name, meta in files_info.items():
        click.echo(f"  {name}  {meta['bytes']:,} bytes  sha256={meta['sha256']}")


@click.command("download")
@click.argument("name")
@FROM_FILE
@ACCEPT
def download_command(name: str, from_files: tuple[str, ...], accept: tuple[str, ...]) -> None:
    """Download, verify and convert the official weights of a model or component into the cache,
    without loading them."""
    from zoo_core import pretrained

    files, accepted = _weights_inputs(from_files, accept)
    cached = pretrained.ensure(name, files, accepted)
    click.echo(f"cached {name} in {cached.folder}")
    click.echo(f"weights: {cached.label}")


@click.group("cache")
def cache_group() -> None:
    """The cache of converted official weights ($ZOO_CACHE, default ~/.cache/zoo)."""


@cache_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def cache_list_command(as_json: bool) -> None:
    """Every cached conversion: name, key, size, converter, when."""
    from zoo_core import pretrained

    rows = []
    for entry in pretrained.entries():
        size = sum(path.stat().st_size for path in entry.folder.iterdir() if path.is_file())
        rows.append({"name": entry.name, "key": entry.folder.name, "bytes": size, "converter": entry.lock["converter"],
                     "created": entry.lock["created"], "folder": str(entry.folder)})
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"the cache ({pretrained.cache_root()}) holds no converted weights")
        return
    table([[r["name"], r["key"], f"{r['bytes'] / 2**20:,.1f} MiB", r["converter"], r["created"]] for r in rows],
          ["NAME", "KEY", "SIZE", "CONVERTER", "CREATED"])


@cache_group.command("verify")
@click.argument("name", required=False)
def cache_verify_command(name: str | None) -> None:
    """Check every converted file (of NAME, or all) against the sha256 in its lock."""
    from zoo_core import pretrained

    problems = []
    for entry in pretrained.entries(name):
        found = pretrained.verify(entry)
        click.echo(f"{entry.name} {entry.folder.name}: {'modified' if found else 'ok'}")
        problems += found
    if problems:
        raise ZooError(f"{len(problems)} cached file(s) fail verification: {problems[0]}")


@cache_group.command("remove")
@click.argument("name")
def cache_remove_command(name: str) -> None:
    """Delete the cached conversions of NAME (downloads are kept for reuse)."""
    from zoo_core import pretrained

    removed = pretrained.remove(name)
    if not removed:
        raise ZooError(f"{name} has no cached conversion in {pretrained.cache_root()}")
    for folder in removed:
        click.echo(f"removed {folder}")


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


