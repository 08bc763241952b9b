"""Verbs about what is installed: ``zoo list``, ``info``, ``plugins``, ``install``, ``uninstall``.

They never import torch or a plugin's model code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import click

from zoo_core import registry
from zoo_core.cli.options import echo_json, table
from zoo_core.errors import ZooError
from zoo_core.specs import CAPABILITIES, SourceFile


def _warn_problems() -> None:
    reg = registry.get_registry()
    for info in reg.plugins.problems:
        click.echo(f"warning: plugin {info.name!r} ({info.distribution}) not loaded: {info.error}", err=True)
    for message in reg.errors:
        click.echo(f"warning: {message}", err=True)
    selection = reg.plugins.selection_problem()
    if selection and reg.models:  # with no model at all, zoo list prints it as its answer
        click.echo(f"warning: {selection}", err=True)


NO_PLUGIN_HINT = (
    "No model plugin is installed. Install one, e.g. 'zoo install zoo-plugin-simswap' "
    "(or from a source checkout: pip install ./plugins/simswap); 'zoo plugins' shows what is loaded."
)


@click.command("list")
@click.argument("pattern", required=False, default="")
@click.option("--pretrained", is_flag=True, help="Only models with published weights.")
@click.option("--capability", type=click.Choice(sorted(CAPABILITIES)), help="Only models with this capability.")
@click.option("--plugin", help="Only models of this distribution.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_command(pattern: str, pretrained: bool, capability: str | None, plugin: str | None, as_json: bool) -> None:
    """List model variants (fnmatch PATTERN, e.g. 'simswap-*')."""
    names = registry.list_models(pattern, pretrained=pretrained, capability=capability, plugin=plugin)
    specs = [registry.get_model_spec(name) for name in names]
    _warn_problems()
    if as_json:
        echo_json([spec.model_dump(mode="json", include=_LIST_FIELDS) | {"pretrained": spec.pretrained} for spec in specs])
        return
    if not specs:
        click.echo(_empty_list_message())
        return
    rows = [
        [s.name, s.family, str(s.resolution), ",".join(sorted(s.capabilities)), "yes" if s.pretrained else "no", s.plugin]
        for s in specs
    ]
    table(rows, ["name", "family", "res", "capabilities", "pretrained", "plugin"])


_LIST_FIELDS = {"name", "family", "resolution", "capabilities", "template", "identity_encoder", "plugin"}


def _empty_list_message() -> str:
    """What ``zoo list`` says when it lists no model."""
    reg = registry.get_registry()
    if reg.models:
        return "No model matches."
    return reg.plugins.selection_problem() or NO_PLUGIN_HINT


@click.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info_command(name: str, as_json: bool) -> None:
    """Show everything about one model (or component): weights, template, converter roles."""
    reg = registry.get_registry()
    if name not in reg.models and name in reg.components:
        spec = registry.get_component_spec(name)
        if as_json:
            echo_json(spec.model_dump(mode="json") | {"pretrained": spec.pretrained})
            return
        _print_fields(spec.model_dump(mode="json", exclude={"sources"}))
        _print_sources(name, spec.sources, verb="download")
        return
    spec = registry.get_model_spec(name)
    converters = registry.get_converters(name)
    if as_json:
        trainer = reg.trainers.get(spec.name) or reg.trainers.get(spec.family)
        data = spec.model_dump(mode="json") | {"pretrained": spec.pretrained, "trainer": trainer.trainer if trainer else None}
        data["converters"] = [c.model_dump(mode="json") for c in converters]
        echo_json(data)
        return
    fields = spec.model_dump(mode="json", exclude={"weights", "default_config", "sources"})
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
    elif not spec.needs_weights:
        click.echo("weights: none needed (the model has no learned parameters)")
    elif not spec.sources:
        click.echo("weights: none published (convert official weights or train)")
    _print_sources(name, spec.sources)
    for conv in converters:
        roles = " ".join(f"{role}=FILE" for role in conv.roles)
        click.echo(f"converter {conv.name}: zoo convert {name} {roles} --output DIR")
        for role, rspec in conv.roles.items():
            optional = "" if rspec.required else " (optional)"
            example = f" e.g. {rspec.example}" if rspec.example else ""
            click.echo(f"  {role}: {rspec.description}{example}{optional}")


def _print_sources(name: str, sources: tuple[SourceFile, ...], verb: str = "load") -> None:
    if not sources:
        return
    automatic = all(source.fetchable for source in sources)
    how = f"automatic: zoo {verb} {name}" if automatic else \
        f"manual: zoo {verb} {name} " + " ".join(f"--from {source.role}=FILE" for source in sources if not source.fetchable)
    click.echo(f"weights: official files, converted once and cached ({how})")
    for source in sources:
        click.echo(f"  {source.describe()}")
        if source.reference:
            click.echo(f"    stated by: {source.reference}")


def _print_fields(fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        if value not in (None, "", [], {}):
            click.echo(f"{key}: {value if isinstance(value, str) else json.dumps(value)}")


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_command(as_json: bool) -> None:
    """List loaded plugins and the ones that failed to load."""
    reg = registry.get_registry()
    infos = reg.plugins.plugins
    if as_json:
        echo_json({
            "plugins": [
                {"name": i.name, "distribution": i.distribution, "version": i.version, "module": i.module,
                 "hooks": list(i.hooks), "error": i.error}
                for i in infos
            ],
            "errors": reg.errors,
        })
        return
    rows = [[i.name, i.distribution, i.version, ",".join(i.hooks) if i.loaded else f"ERROR: {i.error}"] for i in infos]
    table(rows, ["name", "distribution", "version", "hooks"])
    for message in reg.errors:
        click.echo(f"error: {message}")


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", *args]
    click.echo("$ " + " ".join(command), err=True)
    result = subprocess.run(command, check=False)
    if result.returncode:
        raise ZooError(f"pip {args[0]} failed with exit code {result.returncode}")


@click.command("install")
@click.argument("packages", nargs=-1, required=True)
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade if already installed.")
@click.option("-e", "--editable", is_flag=True, help="Install a local plugin folder in editable mode.")
def install_command(packages: tuple[str, ...], upgrade: bool, editable: bool) -> None:
    """Install plugin packages into zoo's own Python environment (pip install)."""
    args = ["install", *(["--upgrade"] if upgrade else [])]
    for package in packages:
        args += ["-e", package] if editable else [package]
    _pip(*args)


@click.command("uninstall")
@click.argument("packages", nargs=-1, required=True)
def uninstall_command(packages: tuple[str, ...]) -> None:
    """Uninstall plugin packages from zoo's Python environment (pip uninstall -y)."""
    _pip("uninstall", "-y", *packages)


