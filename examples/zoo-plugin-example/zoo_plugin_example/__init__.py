"""Hook implementations of the example plugin: specs as data, builders as strings.

This module is imported by ``zoo list``; it must not import torch or ``.model``.
"""

from __future__ import annotations

import click

from zoo_core.hookspecs import hookimpl
from zoo_core.specs import ConverterSpec, ModelSpec, RoleSpec, TrainerSpec

EXAMPLE_CONFIG = {"channels": 16, "identity_dim": 32, "resolution": 64}


@hookimpl
def register_models(register):
    register(
        ModelSpec(
            name="example-64",
            family="example",
            resolution=64,
            builder="zoo_plugin_example.model:build",
            capabilities=frozenset({"swap"}),
            template="ffhq",
            default_config=EXAMPLE_CONFIG,
            description="A tiny random-init AdaIN swapper that shows how a plugin is built.",
            card="zoo_plugin_example:card.md",
        )
    )


@hookimpl
def register_converters(register):
    register(
        ConverterSpec(
            name="example-64",
            target="example-64",
            function="zoo_plugin_example.model:convert_reference_checkpoint",
            roles={
                "generator": RoleSpec(description="reference generator state dict", example="net_G.pth"),
                "identity": RoleSpec(description="reference identity encoder", example="id.pth"),
            },
        )
    )


@hookimpl
def register_trainers(register):
    register(TrainerSpec(name="example", trainer="zoo_plugin_example.train:ExampleTrainer"))


@hookimpl
def register_commands(cli):
    @cli.command(name="example-hello")
    @click.argument("name", default="world")
    def hello(name: str) -> None:
        """Say hello (a plugin-provided CLI verb)."""
        click.echo(f"hello {name} from zoo-plugin-example")
