"""The ``zoo`` command line: one small click function per verb, grouped by subject in this
package (``models``, ``weights``, ``faces``, ``train``, ``evaluate``, ``synth``); the work lives in the
services below it. Shared options and output helpers are in ``options``, the group in ``group``.

Exit codes: 0 success, 2 usage error, 1 runtime error printed as one ``error: ...`` line.
"""

from __future__ import annotations

import sys

import click

from zoo_core import registry
from zoo_core.cli import evaluate, faces, models, synth, train, weights
from zoo_core.cli.group import cli
from zoo_core.errors import ZooError

__all__ = ["cli", "main"]

for command in (
    models.list_command, models.info_command, models.plugins_command, models.install_command,
    models.uninstall_command, weights.load_command, weights.download_command, weights.convert_command,
    weights.push_command, weights.cache_group,
    faces.swap_command, faces.deid_command, faces.mix_command, faces.inspect_command,
    train.train_command, train.prepare_data_command, evaluate.evaluate_command, synth.synth_group,
):
    cli.add_command(command)


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
