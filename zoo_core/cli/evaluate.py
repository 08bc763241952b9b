"""``zoo evaluate``: the papers' metrics for one or several models on real photo pairs.

Imported by the CLI at start-up, so only click is imported here; the engine (numpy, torch,
dlib) loads when the command runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from zoo_core.cli.options import DEVICE, SEED, parse_value
from zoo_core.errors import InputError
from zoo_core.evaluate.pairs import DEFAULT_NUM_PAIRS
from zoo_core.evaluate.specs import DEFAULT_METRICS, DEFAULT_RECOGNIZER


def parse_metric_options(items: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``("fid.weights=/x.pth", "latency.pipeline_photos=3")`` -> ``{metric: {key: value}}``;
    values are JSON when they parse as JSON, strings otherwise."""
    options: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        metric, dot, option = key.partition(".")
        if not sep or not dot or not metric or not option:
            raise click.BadParameter(f"expected METRIC.KEY=VALUE, got {item!r}", param_hint="--metric-option")
        options.setdefault(metric, {})[option] = parse_value(text)
    return options


def check_output(output: Path) -> None:
    """Refuse a report folder that cannot be created, before any model runs."""
    folder = output.absolute()
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{output}: cannot write the report there ({existing} is not a writable folder)")


@click.command("evaluate")
@click.option("--model", "models", multiple=True, required=True,
              help="NAME, hf-hub:ORG/REPO[@REV] or local-dir:PATH; repeat to compare models in one table.")
@click.option("--pairs", "pairs_csv", type=click.Path(dir_okay=False, path_type=Path),
              help="CSV with columns source,target[,source_id,target_id] (paths relative to the CSV).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Identity folders DIR/<identity>/*.jpg; cross-identity pairs are drawn by --seed.")
@click.option("--num-pairs", type=click.IntRange(min=1), help=f"Pairs drawn from --data (default {DEFAULT_NUM_PAIRS}).")
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Report folder: report.json, report.md and PNG plots.")
@click.option("--metrics", help=f"Comma list of registered metrics, or 'all' (default: {','.join(DEFAULT_METRICS)}).")
@click.option("--metric-option", "metric_options", multiple=True,
              help="METRIC.KEY=VALUE option of one metric, e.g. fid.weights=PATH, latency.pipeline_photos=10.")
@click.option("--recognizer", default=DEFAULT_RECOGNIZER, show_default=True,
              help="Recognizer component (kind 'recognizer'); must differ from the model's identity encoder.")
@click.option("--detector", default="dlib-hog", show_default=True, help="Face detector component.")
@click.option("--device", type=DEVICE, default="cpu", show_default=True, help="cpu, cuda, cuda:1, mps, ...")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the pair draw and of stochastic models.")
@click.option("--random-init", is_flag=True, help="Random weights (tests the pipeline; the numbers mean nothing).")
@click.option("--local-files-only", is_flag=True, help="Never download weights.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def evaluate_command(models: tuple[str, ...], pairs_csv: Path | None, data_dir: Path | None, num_pairs: int | None,
                     output: Path, metrics: str | None, metric_options: tuple[str, ...], recognizer: str,
                     detector: str, device: str, seed: int, random_init: bool, local_files_only: bool,
                     no_progress: bool) -> None:
    """Evaluate face-swap models with the papers' metrics (InfoSwap, StyleFace, MFIM)."""
    if (pairs_csv is None) == (data_dir is None):
        raise click.UsageError("give exactly one of --pairs CSV and --data DIR")
    if num_pairs is not None and data_dir is None:
        raise click.UsageError("--num-pairs applies to --data only")
    options = parse_metric_options(metric_options)
    check_output(output)

    from zoo_core.evaluate.engine import Evaluator, load_model
    from zoo_core.evaluate.pairs import read_pairs_csv, sample_pairs
    from zoo_core.evaluate.recognizers import check_recognizer
    from zoo_core.evaluate.report import comparison_table, write_report
    from zoo_core.registry import get_model_spec, is_model

    if random_init:
        unknown = [m for m in models if not is_model(m)]
        if unknown:
            raise click.UsageError(f"--random-init builds registered models only; not registered: {', '.join(unknown)}")
    for name in models:  # refuse the training encoder as recognizer before any work
        if is_model(name):
            check_recognizer(recognizer, get_model_spec(name))
    evaluator = Evaluator(metrics, recognizer, detector, device, seed, options, progress=not no_progress)
    if num_pairs is None:
        num_pairs = DEFAULT_NUM_PAIRS
    pairs = read_pairs_csv(pairs_csv) if pairs_csv is not None else sample_pairs(data_dir, num_pairs, seed)
    if random_init:
        click.echo("warning: random weights: the pipeline is real, the numbers say nothing about the models", err=True)
    entries = [load_model(m, device, random_init, seed, local_files_only, recognizer) for m in models]
    report = evaluator.evaluate(entries, pairs)
    written = write_report(report, output)
    skipped = report.setup["pairs_skipped"]
    faceless = len(report.setup["photos_without_face"])
    click.echo(f"evaluated {report.setup['pairs_evaluated']} pairs ({skipped} skipped; {faceless} photos without a face)")
    for line in comparison_table(report):
        click.echo(line)
    click.echo(f"wrote {', '.join(p.name for p in written)} to {output}")
