"""``zoo infoswap stats|heatmaps`` (added through the plugin's ``register_commands`` hook).

Torch and the model code are imported inside the commands, so ``zoo list`` stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from zoo_core.errors import InputError


def _model(name: str, random_init: bool, seed: int, identity_weights: str | None = None) -> Any:
    """The model of ``--model``; with ``identity_weights`` built with random networks around
    that recognizer (all the readout statistics depend on)."""
    import torch

    from zoo_core import hub, registry

    if identity_weights is not None:
        from zoo_plugin_infoswap.pretrained import load_recognizer

        torch.manual_seed(seed)
        model = registry.create_model(name).eval()
        _family_check(model, name)
        load_recognizer(model, identity_weights)
        return model
    if random_init:
        torch.manual_seed(seed)
        click.echo(f"warning: {name} has random weights", err=True)
        return registry.create_model(name).eval()
    return hub.load(name)


def _family_check(model: Any, name: str) -> None:
    if getattr(getattr(model, "spec", None), "family", None) != "infoswap":
        raise InputError(f"--model {name}: not an InfoSwap model")


@click.group("infoswap")
def infoswap_group() -> None:
    """InfoSwap tools: readout statistics and lambda heat maps."""


@infoswap_group.command("stats")
@click.option("--model", "model_name", required=True, help="NAME, hf-hub:ORG/REPO[@REV] or local-dir:PATH.")
@click.option("--data", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Aligned crops (zoo prepare-data --template infoswap-512), flat or one folder per identity.")
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the model with the new statistics (save_pretrained layout).")
@click.option("--limit", type=int, default=10000, show_default=True, help="Photos to use (the supplement: 10k).")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--random-init", is_flag=True, help="Start from random weights (pipeline tests only).")
@click.option("--identity-weights", help="infoswap-irse50 component folder (zoo convert infoswap-irse50 ...): "
              "the recognizer to compute the statistics with; the other networks get random weights, "
              "and OUTPUT is what 'zoo train --set identity_weights=... readout_stats=OUTPUT' takes.")
@click.option("--seed", type=int, default=0, show_default=True)
def stats_command(model_name: str, data: Path, output: Path, limit: int, batch_size: int, random_init: bool,
                  identity_weights: str | None, seed: int) -> None:
    """Compute the mean / std / active masks of R_1..R_11 over the photos of DATA."""
    import numpy as np
    import torch

    from zoo_core.hub import save_pretrained
    from zoo_core.train.data import FaceFolder, load_crop
    from zoo_plugin_infoswap.stats import compute_readout_stats

    if limit < 2 or batch_size < 1:
        raise click.BadParameter("--limit must be >= 2 and --batch-size >= 1")
    if random_init and identity_weights is not None:
        raise click.BadParameter("--random-init and --identity-weights exclude each other")
    model = _model(model_name, random_init, seed, identity_weights)
    _family_check(model, model_name)
    paths = FaceFolder.scan(data).paths[:limit]
    size = model.config.output_size

    def batches() -> Any:
        for start in range(0, len(paths), batch_size):
            yield torch.from_numpy(np.stack([load_crop(p, size) for p in paths[start:start + batch_size]]))

    count = compute_readout_stats(model, batches())
    recognizer = identity_weights or ("random-init" if random_init else model_name)
    save_pretrained(model, output, provenance={"readout_statistics": {"photos": count, "data": str(data),
                                                                      "recognizer": recognizer}})
    click.echo(f"readout statistics of {count} photos written to {output}")


@infoswap_group.command("heatmaps")
@click.option("--model", "model_name", required=True, help="NAME, hf-hub:ORG/REPO[@REV] or local-dir:PATH.")
@click.argument("photos", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--detector", default="dlib-hog", show_default=True, help="Face detector component.")
@click.option("--random-init", is_flag=True, help="Random weights (pipeline tests only).")
@click.option("--seed", type=int, default=0, show_default=True)
def heatmaps_command(model_name: str, photos: tuple[Path, ...], output: Path, detector: str, random_init: bool,
                     seed: int) -> None:
    """Write the lambda_1..lambda_10 maps of each photo's face as PNG overlays (paper Fig. 6)."""
    import torch

    from zoo_core.faces.io import write_image
    from zoo_core.faces.swapper import FaceSwapper
    from zoo_core.provenance import make_provenance
    from zoo_plugin_infoswap.stats import lambda_overlays

    model = _model(model_name, random_init, seed)
    _family_check(model, model_name)
    swapper = FaceSwapper(model, detector=detector)
    output.mkdir(parents=True, exist_ok=True)
    provenance = make_provenance(model.spec.name, "random-init" if random_init else model_name, seed)
    for photo in photos:
        if not photo.is_file():
            raise InputError(f"{photo}: no such photo")
        crop = torch.from_numpy(swapper.source_crop(photo).transpose(2, 0, 1).copy()).float()[None] / 255
        overlays = lambda_overlays(model, crop)
        for i, overlay in enumerate(overlays, 1):
            write_image(output / f"{photo.stem}_lambda{i:02d}.png", overlay, provenance=provenance)
        click.echo(f"{photo}: {len(overlays)} lambda maps in {output}")
