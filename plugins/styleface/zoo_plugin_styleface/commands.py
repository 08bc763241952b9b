"""``zoo styleface ...``: StyleFace-specific commands (registered by ``register_commands``)."""

from __future__ import annotations

from pathlib import Path

import click

from zoo_core.cli.options import DEVICE


@click.group("styleface")
def styleface_group() -> None:
    """StyleFace tools: control-mask visualisation (paper Fig. 10)."""


@styleface_group.command("masks")
@click.option("--model", "model_name", default="styleface-1024", show_default=True,
              help="NAME, hf-hub:ORG/REPO[@REV] or local-dir:PATH of a StyleFace model.")
@click.option("--source", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Photo giving the identity.")
@click.option("--target", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Photo giving the attributes.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PNG grid.")
@click.option("--device", default="cpu", show_default=True, type=DEVICE)
@click.option("--detector", default="dlib-hog", show_default=True, help="Face detector component.")
@click.option("--local-files-only", is_flag=True, help="Never download weights.")
@click.option("--random-init", is_flag=True, help="Random weights (testing the pipeline only).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random weights.")
def masks_command(model_name: str, source: Path, target: Path, output: Path, device: str, detector: str,
                  local_files_only: bool, random_init: bool, seed: int) -> None:
    """Save target crop | swap | the mean control mask of every resolution (Fig. 10).

    Each mask tile is the mean over channels and over the resolution's modulated convs of
    M = sigmoid(Conv(h ∘ f_att)), upsampled to the crop size; white = 1 (attribute kept).
    """
    from zoo_plugin_styleface.masks import mask_grid, write_grid

    grid, weights = mask_grid(model_name, source, target, device, detector, local_files_only, random_init, seed)
    write_grid(output, grid, model_name, weights, seed if random_init else None, source, target)
    click.echo(f"wrote {output}")
