"""The face-pipeline verbs: ``zoo swap``, ``deid``, ``mix`` (ID mixing, MFIM Sec. 3.3, for any
model with the "mix" capability) and ``inspect``.

``zoo mix``:

The global source gives the coarse ID attributes (face shape), the local source the fine ones
(eyes, nose, lips); models that also expose ``mix_sources(sources, assignment, target)`` and
``id_resolutions`` take more sources, one per generator resolution (``--source-at RES=PHOTO``).
Detection, alignment and paste-back are the face pipeline of ``zoo swap``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from zoo_core.cli.options import (
    MAX_PIXELS,
    OVERWRITE,
    SEED,
    SMOOTH,
    config_overrides,
    echo_json,
    face_model_options,
)
from zoo_core.errors import InputError, ZooError
from zoo_core.fileio import refuse_overwriting

DEFAULT_SWAP_MODEL = "graphics-512"
"""``zoo swap``'s model when ``--model`` is not given: it works offline and needs no weights."""


def default_swap_model() -> str:
    """The offline default swap model, announced in one line; a one-line error when its plugin is missing."""
    from zoo_core.registry import is_model

    if not is_model(DEFAULT_SWAP_MODEL):
        raise ZooError(f"no --model given and the offline default {DEFAULT_SWAP_MODEL} is not installed: "
                       "pip install zoo-plugin-graphics (from a source checkout: pip install ./plugins/graphics)")
    click.echo(f"model: {DEFAULT_SWAP_MODEL} (the offline default, no weights; choose another with --model)", err=True)
    return DEFAULT_SWAP_MODEL


def face_model(model_name: str, *, random_init: bool, seed: int, device: str, revision: str | None,
               local_files_only: bool, overrides: tuple[str, ...] = (), capability: str | None = None) -> tuple[Any, str]:
    """The model of a face-pipeline verb and its provenance label (``zoo_core.factory.load_model``)."""
    from zoo_core.factory import load_model

    loaded = load_model(model_name, device=device, random_init=random_init, seed=seed, revision=revision,
                        local_files_only=local_files_only, config=config_overrides(overrides), capability=capability)
    return loaded.model, loaded.weights


@click.command("swap")
@click.option("--model", "model_name", help=f"NAME, hf-hub:ORG/REPO[@REV] or local-dir:PATH (default: {DEFAULT_SWAP_MODEL}, "
              "offline, no weights).")
@click.option("--source", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Photo giving the identity.")
@click.option("--target", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Photo or video to change.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--face-index", type=click.IntRange(min=0), help="Swap the N-th target face (0 = largest; faces are ordered by size times confidence).")
@click.option("--all-faces", is_flag=True, help="Swap every target face.")
@click.option("--reference", type=click.Path(dir_okay=False, path_type=Path), help="Swap the target face most like this photo.")
@face_model_options
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
              help="Faces per model call (video frames are batched).")
@click.option("--seed", type=SEED, help="Seed for stochastic models (recorded in the output's metadata).")
@click.option("--color-match", is_flag=True, help="Match the swapped face's colours to the target's.")
@SMOOTH
@click.option("--random-init", is_flag=True, help="Use random weights (testing the pipeline: the face content is meaningless).")
@click.option("--set", "overrides", multiple=True,
              help="Model config override key=value (JSON values), e.g. sampling steps of a diffusion model.")
@OVERWRITE
@MAX_PIXELS
def swap_command(model_name: str | None, source: Path, target: Path, output: Path, face_index: int | None, all_faces: bool,
                 reference: Path | None, device: str, batch_size: int, seed: int | None, revision: str | None,
                 local_files_only: bool, detector: str, color_match: bool, smooth: float, random_init: bool,
                 overrides: tuple[str, ...], overwrite: bool, max_pixels: int) -> None:
    """Swap the identity of SOURCE into the face(s) of TARGET (photo or video)."""
    from zoo_core.faces.swapper import FaceSwapper, Selection
    from zoo_core.faces.video import is_video
    from zoo_core.fileio import refuse_overwriting

    selection = Selection(face_index=face_index, all_faces=all_faces, reference=reference)
    if not overwrite:
        refuse_overwriting([output], {"--source": source, "--target": target, "--reference": reference})
    if model_name is None:
        model_name = default_swap_model()
    model, weights = face_model(model_name, random_init=random_init, seed=0 if seed is None else seed,
                                device=device, revision=revision, local_files_only=local_files_only,
                                overrides=overrides)
    swapper = FaceSwapper(model, detector=detector, device=device, batch_size=batch_size, color_match=color_match,
                          weights=weights, seed=seed, max_pixels=max_pixels)
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


@click.command("deid")
@click.option("--model", "model_name", required=True, help="NAME, hf-hub:ORG/REPO[@REV] or local-dir:PATH of a model with the 'deidentify' capability.")
@click.option("--target", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Photo or video to de-identify.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output file; with --num N > 1, OUTPUT's stem gets -0 ... -(N-1).")
@click.option("--face-index", type=click.IntRange(min=0), help="De-identify the N-th face (0 = largest; faces are ordered by size times confidence).")
@click.option("--all-faces", is_flag=True, help="De-identify every face (each gets its own virtual identity).")
@click.option("--reference", type=click.Path(dir_okay=False, path_type=Path), help="De-identify the face most like this photo.")
@click.option("--seed", type=SEED, help="Seed of the virtual identities (default: random, printed and recorded in the output's metadata).")
@click.option("--num", default=1, show_default=True, type=click.IntRange(min=1), help="Variants with seeds SEED, SEED+1, ...")
@click.option("--levels", help="Only these identity levels, e.g. low,mid (models whose deidentify takes 'levels', such as StyleFace).")
@face_model_options
@click.option("--color-match", is_flag=True, help="Match the new face's colours to the original's.")
@SMOOTH
@click.option("--random-init", is_flag=True, help="Use random weights seeded with 0 (testing the pipeline: the face content is meaningless).")
@OVERWRITE
@MAX_PIXELS
def deid_command(model_name: str, target: Path, output: Path, face_index: int | None, all_faces: bool,
                 reference: Path | None, seed: int | None, num: int, levels: str | None, device: str,
                 revision: str | None, local_files_only: bool, detector: str, color_match: bool, smooth: float,
                 random_init: bool, overwrite: bool, max_pixels: int) -> None:
    """Replace the identity of the face(s) in TARGET (photo or video) by sampled virtual ones.

    A video keeps one virtual identity per selected face across all its frames.
    """
    import inspect
    import secrets

    from zoo_core.faces.detect import create_detector
    from zoo_core.faces.swapper import FaceDeidentifier, Selection
    from zoo_core.faces.video import is_video
    from zoo_core.fileio import refuse_overwriting

    selection = Selection(face_index=face_index, all_faces=all_faces, reference=reference)
    outputs = _variant_paths(output, num)
    if not overwrite:
        refuse_overwriting(outputs, {"--target": target, "--reference": reference})
    if seed is None:
        seed = secrets.randbelow(2**31)
        click.echo(f"seed: {seed}", err=True)
    # random weights do not depend on --seed, which only picks the identities
    model, weights = face_model(model_name, random_init=random_init, seed=0, device=device,
                                revision=revision, local_files_only=local_files_only, capability="deidentify")
    options: dict[str, Any] = {}
    if levels is not None:
        if "levels" not in inspect.signature(model.deidentify).parameters:
            raise ZooError(f"--levels: {model.spec.name} has no identity levels to choose from")
        options["levels"] = tuple(part.strip() for part in levels.split(","))
    faces = create_detector(detector)
    for variant, path in enumerate(outputs):
        worker = FaceDeidentifier(model, seed + variant, options, detector=faces, device=device,
                                  color_match=color_match, weights=weights, max_pixels=max_pixels)
        if is_video(target):
            worker.deidentify_video(target, path, selection, smooth=smooth)
        else:
            worker.deidentify_image_file(target, path, selection)
        click.echo(f"wrote {path} (seed {seed + variant})")


@click.command("inspect")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def inspect_command(file: Path, as_json: bool) -> None:
    """Print the provenance a zoo output carries (model, weights, seed, version, date)."""
    from zoo_core.faces.io import read_provenance

    data = read_provenance(file)
    if as_json:
        echo_json(data)
    elif data is None:
        click.echo(f"{file}: no FaceSwap Zoo provenance")
    else:
        for key, value in sorted(data.items()):
            click.echo(f"{key}: {value}")


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
    from zoo_core.faces.tensors import check_output, crops_to_tensor, tensor_to_crops

    sources = [swapper.source_crop(p) for p in (global_source, local_source, *extras)]
    rgb, _, name = load_image(target, swapper.max_pixels)
    face = swapper.select(rgb, swapper.faces(rgb, name), Selection(face_index=face_index), name)[0]
    aligned = swapper.align(rgb, face)
    with torch.inference_mode():
        tensors = [crops_to_tensor([crop], swapper.device) for crop in (*sources, aligned.crop)]
        *source_tensors, target_tensor = tensors
        if assignment:
            out = model.mix_sources(source_tensors, assignment, target_tensor)
        else:
            out = model.mix(source_tensors[0], source_tensors[1], target_tensor)
    return swapper.blend(rgb, [aligned], tensor_to_crops(check_output(model.spec.name, "mix", out, target_tensor)))


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
@face_model_options
@click.option("--seed", type=SEED, help="Seed for stochastic models (recorded in the output's metadata).")
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
    from zoo_core.faces.io import read_image, write_image
    from zoo_core.faces.swapper import FaceSwapper

    per_level = parse_levels(levels)
    if not overwrite:
        refuse_overwriting([output], {"--global": global_source, "--local": local_source, "--target": target,
                                      **{f"--source-at {res}": path for res, path in per_level.items()}})
    model, weights = face_model(model_name, random_init=random_init, seed=0 if seed is None else seed,
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
