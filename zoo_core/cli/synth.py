"""``zoo synth plan | run | export``: forgery-detection datasets (``zoo_core.synth``).

``plan`` writes a JSONL plan (identity-disjoint splits, one row per output, stable ids);
``run`` renders it resumably, as shard K of N, as one process of ``accelerate launch``, or
on Ray; ``export`` lays a finished dataset out for DeepfakeBench, FaceForensics++ or CSV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from zoo_core.cli.options import DEVICE, MAX_PIXELS, SEED, parse_assignments, parse_value
from zoo_core.errors import InputError


@click.group("synth")
def synth_group() -> None:
    """Build forgery-detection datasets: plan, run, export."""


def _split_methods(values: tuple[str, ...]) -> list[str]:
    """The registered swap models of ``--methods`` (an unknown one is a one-line error)."""
    from zoo_core.factory import check_capability
    from zoo_core.registry import get_model_spec

    methods = list(dict.fromkeys(m for value in values for m in value.split(",") if m))
    if not methods:
        raise click.BadParameter("expected at least one model name", param_hint="--methods")
    for method in methods:
        if not method.startswith(("hf-hub:", "local-dir:")):  # those name their spec when loaded
            check_capability(method, get_model_spec(method), "swap")
    return methods


def _model_configs(items: tuple[str, ...], methods: list[str]) -> dict[str, dict[str, Any]]:
    """``--set METHOD:key=value`` -> ``{method: {key: value}}``."""
    configs: dict[str, dict[str, Any]] = {}
    for item in items:
        method, sep, assignment = item.partition(":")
        if not sep or method not in methods:
            raise click.BadParameter(f"expected METHOD:key=value with METHOD one of --methods, got {item!r}",
                                     param_hint="--set")
        key, value = next(iter(parse_assignments((assignment,), "METHOD:key=value").items()))
        configs.setdefault(method, {})[key] = parse_value(value)
    return configs


@synth_group.command("plan")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The plan (JSONL).")
@click.option("--methods", required=True, multiple=True,
              help="Swap models, comma-separated: names (graphics-512,simswap-224), hf-hub:ORG/REPO[@REV] or local-dir:PATH.")
@click.option("--pairs-per-identity", type=click.IntRange(min=1), default=1, show_default=True,
              help="Fakes per target identity (each with another source identity of its split).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the splits, pairs, perturbations and models.")
@click.option("--splits", "fractions", default="0.8,0.1,0.1", show_default=True,
              help="Fractions of identities in train,val,test.")
@click.option("--ffpp-splits", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder with FaceForensics++'s train/val/test.json: its pairs instead of random ones.")
@click.option("--real", is_flag=True, help="Add rows for the real targets (label real), in the same splits.")
@click.option("--videos", is_flag=True, help="Use videos as targets too (otherwise photos only).")
@click.option("--compression", "compressions", multiple=True, default=("c23",), show_default=True,
              type=click.Choice(["c0", "c23", "c40"]), help="FaceForensics++ level (repeat for several).")
@click.option("--perturb", "perturbations", multiple=True, default=("none",), show_default=True,
              help="DeeperForensics-1.0 perturbations: none, random, mix, mix:K, or a chain like CS:3+GB:2 (repeat for several).")
@click.option("--segment", help="Videos: swap only frames [START, END) ('START:END') or a random segment per video ('auto').")
@click.option("--random-init", is_flag=True, help="Random model weights (testing the pipeline: the face content is meaningless).")
@click.option("--set", "overrides", multiple=True, help="Model config override METHOD:key=value (JSON values).")
def plan_command(source: Path, output: Path, methods: tuple[str, ...], pairs_per_identity: int, seed: int, fractions: str,
                 ffpp_splits: Path | None, real: bool, videos: bool, compressions: tuple[str, ...],
                 perturbations: tuple[str, ...], segment: str | None, random_init: bool, overrides: tuple[str, ...]) -> None:
    """Plan a dataset from SOURCE: DIR/<identity>/* or a flat folder (one identity per file)."""
    from zoo_core.synth import perturb
    from zoo_core.synth.plan import PlanSettings, build_plan, write_plan
    from zoo_core.synth.splits import parse_fractions

    names = _split_methods(methods)
    if segment not in (None, "auto"):
        start, sep, end = segment.partition(":")
        if not (sep and start.isdigit() and end.isdigit() and int(start) < int(end)):
            raise click.BadParameter(f"expected START:END frames with START < END, or auto; got {segment!r}",
                                     param_hint="--segment")
    settings = PlanSettings(
        methods=names, pairs_per_identity=pairs_per_identity, seed=seed, fractions=parse_fractions(fractions),
        real=real, videos=videos, compressions=list(dict.fromkeys(compressions)),
        perturbations=[perturb.parse_spec(p) for p in dict.fromkeys(perturbations)], segment=segment,
        random_init=random_init, model_config=_model_configs(overrides, names), ffpp_splits=ffpp_splits)
    rows = build_plan(source, settings)
    write_plan(output, rows)
    counts = {split: sum(r["split"] == split for r in rows) for split in ("train", "val", "test")}
    click.echo(f"wrote {output}: {len(rows)} rows ({', '.join(f'{k} {v}' for k, v in counts.items())})")


@synth_group.command("run")
@click.argument("plan", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=Path), help="The dataset folder.")
@click.option("--num-shards", type=click.IntRange(min=1), default=1, show_default=True, help="Split the plan into N shards.")
@click.option("--shard-index", type=click.IntRange(min=0), default=0, show_default=True, help="Render shard K (0-based).")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True, help="Rows per loader batch and faces per model call.")
@click.option("--num-workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="DataLoader workers decoding, detecting and aligning while the model runs (0: in-process).")
@click.option("--device", type=DEVICE, help="cpu, cuda, cuda:1, ... (default: the launcher's device, else cpu).")
@click.option("--retry-failed", is_flag=True, help="Render rows that failed in an earlier run again.")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "bf16"]), default="fp32", show_default=True,
              help="Autocast dtype of the model calls (fp16/bf16 for GPUs; recorded in the manifest).")
@click.option("--channels-last", is_flag=True, help="channels_last memory format for the model and its inputs.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local (this process; shards and accelerate launch) or ray (Ray Data, one model per actor).")
@click.option("--actors", type=click.IntRange(min=1), default=1, show_default=True,
              help="--executor ray: actors (one model each; with --device cuda, one GPU each).")
@click.option("--detector", default="dlib-hog", show_default=True, help="Face detector component.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@MAX_PIXELS
def run_command(plan: Path, output: Path, num_shards: int, shard_index: int, batch_size: int, num_workers: int,
                device: str | None, retry_failed: bool, precision: str, channels_last: bool, executor: str, actors: int, detector: str, no_progress: bool,
                max_pixels: int) -> None:
    """Render PLAN into the dataset folder OUTPUT (resumable: rerun to finish)."""
    from zoo_core.synth.plan import read_plan
    from zoo_core.synth.runner import RunOptions, run_rows
    from zoo_core.synth.shards import this_part

    rows = read_plan(plan)
    if executor == "ray":
        from zoo_core.synth.ray_executor import run_with_ray

        options = RunOptions(output, batch_size, device or "cpu", retry_failed, 0, detector, max_pixels, not no_progress,
                             precision, channels_last)
        summary = run_with_ray(rows, options, num_shards, shard_index, actors, echo=click.echo)
    else:
        part = this_part(rows, num_shards, shard_index)
        options = RunOptions(output, batch_size, device or part.device or "cpu", retry_failed, num_workers, detector,
                             max_pixels, not no_progress and part.process_index == 0, precision, channels_last)
        summary = run_rows(part.rows, options, part.name, echo=click.echo)
    if summary.failed and not summary.written and not summary.skipped:
        raise InputError(f"{plan}: every row failed ({len(summary.failed)})")


@synth_group.command("export")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "fmt", required=True, type=click.Choice(["deepfakebench", "ffpp", "csv"]))
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path),
              help="deepfakebench: the JSON file; ffpp: a folder; csv: the CSV file.")
@click.option("--name", default="ZooSynth", show_default=True,
              help="deepfakebench: the dataset name (top-level key, label prefix).")
def export_command(dataset: Path, fmt: str, output: Path, name: str) -> None:
    """Export the done rows of DATASET for DeepfakeBench, FaceForensics++ tools, or as CSV."""
    from zoo_core.synth import export

    suffix = {"deepfakebench": ".json", "csv": ".csv"}.get(fmt)
    if suffix is not None and (output.suffix.lower() != suffix or output.is_dir()):
        raise click.BadParameter(f"{output}: --format {fmt} writes one {suffix} file (e.g. {output.with_suffix('')}/"
                                 f"{name if fmt == 'deepfakebench' else 'dataset'}{suffix})", param_hint="--output")
    if fmt == "ffpp" and output.exists() and not output.is_dir():
        raise click.BadParameter(f"{output}: --format ffpp writes a folder, and this is a file", param_hint="--output")
    if fmt == "deepfakebench":
        written = export.to_deepfakebench(dataset, output, name)
    else:
        written = {"ffpp": export.to_ffpp, "csv": export.to_csv}[fmt](dataset, output)
    click.echo(f"wrote {written}")
