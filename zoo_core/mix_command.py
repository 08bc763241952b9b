"""``zoo mix``: ID mixing (MFIM Sec. 3.3) on photos, for any model with the "mix" capability.

The global source gives the coarse ID attributes (face shape), the local source the fine ones
(eyes, nose, lips); models that also expose ``mix_sources(sources, assignment, target)`` and
``id_resolutions`` take more sources, one per generator resolution (``--source-at RES=PHOTO``).
Detection, alignment and paste-back are the face pipeline of ``zoo swap``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from zoo_core.cli_options import DEVICE, SEED
from zoo_core.errors import InputError, ZooError
from zoo_core.fileio import refuse_overwriting


def default_max_pixels() -> int:
    """``--max-pixels``'s default (imported when needed: the CLI starts without numpy and PIL)."""
    from zoo_core.faces.io import DEFAULT_MAX_PIXELS

    return DEFAULT_MAX_PIXELS


OVERWRITE = click.option("--overwrite", is_flag=True, help="Allow the output to replace one of the input files.")
MAX_PIXELS = click.option("--max-pixels", type=click.IntRange(min=1), default=default_max_pixels,
                          help="Refuse images larger than this many pixels, before decoding them (default: 100 million).")


def parse_levels(items: tuple[str, ...]) -> dict[int, Path]:
    """``("64=a.jpg", ...)`` -> {64: Path("a.jpg")}."""
    levels: dict[int, Path] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isdigit() or not value:
            raise click.BadParameter(f"expected RES=PHOTO (e.g. 64=face.jpg), got {item!r}", param_hint="--source-at")
        levels[int(key)] = Path(value)
    return levels


def assignment_for(model: Any, levels: dict[int, Path]) -> tuple[list[Path], dict[int, int]]:
    """Extra sources (after global and local) and the resolution -> source index assignment."""
    if not hasattr(model, "mix_sources") or not hasattr(model, "id_resolutions"):
        raise ZooError(f"{model.spec.name} mixes exactly two sources; --source-at needs a model with mix_sources")
    unknown = sorted(set(levels) - set(model.id_resolutions))
    if unknown:
        raise InputError(f"--source-at: {model.spec.name} has no ID codes at resolutions {unknown}; "
                         f"its ID resolutions: {list(model.id_resolutions)}")
    extras = list(dict.fromkeys(levels.values()))
    assignment = {res: 1 for res in model.id_resolutions}
    assignment.update({res: 0 for res in getattr(model.config, "global_resolutions", ())})
    assignment.update({res: 2 + extras.index(path) for res, path in levels.items()})
    return extras, assignment


def mix_photo(model: Any, swapper: Any, global_source: Path, local_source: Path, target: Path,
              face_index: int, extras: list[Path], assignment: dict[int, int]) -> Any:
    """The target photo with its selected face given the mixed identity (``assignment`` empty:
    the model's two-source ``mix``)."""
    import torch

    from zoo_core.faces.swapper import Selection, load_image

    sources = [swapper.source_crop(p) for p in (global_source, local_source, *extras)]
    rgb, _, name = load_image(target, swapper.max_pixels)
    face = swapper.select(rgb, swapper.faces(rgb, name), Selection(face_index=face_index), name)[0]
    aligned = swapper.align(rgb, face)
    with torch.inference_mode():
        tensors = [swapper._to_tensor([crop]) for crop in (*sources, aligned.crop)]
        *source_tensors, target_tensor = tensors
        if assignment:
            out = model.mix_sources(source_tensors, assignment, target_tensor)
        else:
            out = model.mix(source_tensors[0], source_tensors[1], target_tensor)
    if tuple(out.shape) != tuple(target_tensor.shape):
        raise ZooError(f"{model.spec.name}: mix returned {tuple(out.shape)} for input {tuple(target_tensor.shape)}")
    return swapper.blend(rgb, [aligned], swapper._to_uint8(out))


@click.command("mix")
@click.option("--model", "model_name", required=True, help="NAME, hf-hub:ORG/REPO[@REV] or local-dir:PATH of a model with the 'mix' capability.")
@click.option("--global", "global_source", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Photo giving the global ID attributes (face shape).")
@click.option("--local", "local_source", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Photo giving the local ID attributes (eyes, nose, lips).")
@click.option("--target", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Photo to change.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source-at", "levels", multiple=True,
              help="RES=PHOTO: the ID codes of generator resolution RES from PHOTO (more than two sources).")
@click.option("--face-index", default=0, show_default=True, type=click.IntRange(min=0), help="Change the N-th target face (0 = largest).")
@click.option("--device", default="cpu", show_default=True, type=DEVICE, help="cpu, cuda, cuda:1, ...")
@click.option("--seed", type=SEED, help="Seed for stochastic models (recorded in the output's metadata).")
@click.option("--revision", help="Branch, tag or commit of the weights.")
@click.option("--local-files-only", is_flag=True, help="Never download weights.")
@click.option("--detector", default="dlib-hog", show_default=True, help="Face detector component (zoo info NAME).")
@click.option("--color-match", is_flag=True, help="Match the new face's colours to the target's.")
@click.option("--random-init", is_flag=True, help="Use random weights (testing the pipeline: the face content is meaningless).")
@click.option("--set", "overrides", multiple=True, help="Model config override key=value (JSON values).")
@OVERWRITE
@MAX_PIXELS
def mix_command(model_name: str, global_source: Path, local_source: Path, target: Path, output: Path,
                levels: tuple[str, ...], face_index: int, device: str, seed: int | None, revision: str | None,
                local_files_only: bool, detector: str, color_match: bool, random_init: bool,
                overrides: tuple[str, ...], overwrite: bool, max_pixels: int) -> None:
    """Swap into TARGET a new identity mixed from a global and a local source (ID mixing)."""
    from zoo_core.cli import load_for_faces
    from zoo_core.faces.io import read_image, write_image
    from zoo_core.faces.swapper import FaceSwapper

    per_level = parse_levels(levels)
    if not overwrite:
        refuse_overwriting([output], {"--global": global_source, "--local": local_source, "--target": target,
                                      **{f"--source-at {res}": path for res, path in per_level.items()}})
    model, weights = load_for_faces(model_name, random_init=random_init, weight_seed=0 if seed is None else seed,
                                    device=device, revision=revision, local_files_only=local_files_only,
                                    overrides=overrides)
    if "mix" not in model.spec.capabilities:
        raise ZooError(f"{model.spec.name} cannot mix identities (capabilities: {', '.join(sorted(model.spec.capabilities))})")
    extras, assignment = assignment_for(model, per_level) if per_level else ([], {})
    swapper = FaceSwapper(model, detector=detector, device=device, color_match=color_match, weights=weights, seed=seed,
                          max_pixels=max_pixels)
    if seed is not None:
        import torch

        torch.manual_seed(seed)
    mixed = mix_photo(model, swapper, global_source, local_source, target, face_index, extras, assignment)
    _, info = read_image(target, max_pixels=max_pixels)
    extra = {str(res): path.name for res, path in per_level.items()}
    provenance = swapper.provenance(global_source=global_source.name, local_source=local_source.name,
                                    target=target.name, **({"source_at": extra} if extra else {}))
    write_image(output, mixed, info, provenance)
    click.echo(f"wrote {output}")
