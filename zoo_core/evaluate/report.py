"""Writing an evaluation: ``report.json`` (everything), ``report.md`` (one comparison table as in
the papers, definitions, what was skipped) and PNG plots of the identity similarities
(InfoSwap Fig. 5 box plots; Fig. 3(b)-style mu_st +- k sigma_st belts). All writes are atomic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo_core.evaluate.engine import EvaluationReport
from zoo_core.fileio import atomic_path, write_json_atomic, write_text_atomic

SIMILARITY_PLOT = "similarities.png"
DISCRIMINABILITY_PLOT = "discriminability.png"
_RED, _BLUE, _GREEN = "#d62728", "#1f77b4", "#2ca02c"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def comparison_table(report: EvaluationReport) -> list[str]:
    """The markdown table: one row per model, the metrics' summary cells as columns, and
    InfoSwap Table 3's "source with target" row when the similarities were computed."""
    columns: list[str] = []
    for name in report.setup["metrics"]:
        for model in report.models:
            result = model.results.get(name)
            if result is not None and result.applicable:
                columns += [c for c in result.summary if c not in columns]
    if not columns:
        return ["No metric applied to any model."]
    owner = {}
    for model in report.models:
        for name, result in model.results.items():
            for column in result.summary:
                owner.setdefault(column, name)
    lines = ["| model | " + " | ".join(_cell(c) for c in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for model in report.models:
        cells = []
        for column in columns:
            result = model.results.get(owner[column])
            cells.append(result.summary.get(column, "") if result is not None and result.applicable else "n/a")
        lines.append(f"| {_cell(model.label)} | " + " | ".join(_cell(c) for c in cells) + " |")
    similarity = next((m.results["id-similarity"] for m in report.models
                       if "id-similarity" in m.results and m.results["id-similarity"].applicable), None)
    if similarity is not None and "cos(swap, target)" in columns:
        stats = similarity.values["source_target"]
        row = ["" for _ in columns]
        row[columns.index("cos(swap, target)")] = f"{stats['mean']:.3f} ± {stats['std']:.3f}"
        lines.append("| source with target | " + " | ".join(row) + " |")
    return lines


def render_markdown(report: EvaluationReport, plots: list[str]) -> str:
    setup = report.setup
    lines = [
        "# Face-swap evaluation",
        "",
        f"Written by FaceSwap Zoo {setup['zoo_core_version']} on {setup['created']}. The swaps are synthetic; "
        "this report measures them.",
        "",
        "## Setup",
        "",
        f"- pairs: {setup['pairs_from']}; {setup['pairs_evaluated']} cross-identity pairs evaluated, "
        f"{setup['pairs_skipped']} skipped (a photo without a face or unreadable); "
        f"{setup['same_identity_pairs']} same-identity pairs; seed {setup['seed']}",
        f"- photos: {setup['photos']}; gallery for ID retrieval: {setup['gallery']} photos of "
        f"{setup['identities']} identities",
        f"- photos without a face: {len(setup['photos_without_face'])}"
        + (f" ({', '.join(setup['photos_without_face'][:20])})" if setup["photos_without_face"] else ""),
    ]
    if setup["photos_unreadable"]:
        lines.append(f"- unreadable photos: {len(setup['photos_unreadable'])} ({', '.join(setup['photos_unreadable'][:20])})")
    rule = f"; same person when {setup['same_person_rule']}" if setup.get("same_person_rule") else ""
    lines += [
        f"- recognizer: {setup['recognizer']}{rule}; it differs from every model's identity encoder",
        f"- detector: {setup['detector']}; device: {setup['device']}",
        "",
        "| model | weights | capabilities | identity encoder |",
        "|---|---|---|---|",
        *[f"| {_cell(m.label)} | {_cell(m.weights)} | {', '.join(m.capabilities)} | {m.identity_encoder or '-'} |"
          for m in report.models],
        "",
        "## Results",
        "",
        *comparison_table(report),
        "",
        "↑ higher is better, ↓ lower is better; n/a: see below.",
        "",
        "## Definitions",
        "",
    ]
    for name in setup["metrics"]:
        notes = next((r.notes for m in report.models if (r := m.results.get(name)) is not None and r.applicable), None)
        if notes:
            lines += [f"- **{name}**: " + " ".join(notes)]
    missing = [(m.label, name, r.reason) for m in report.models for name, r in m.results.items() if not r.applicable]
    if missing:
        lines += ["", "## Not applicable", ""]
        lines += [f"- {name} for {label}: {reason}" for label, name, reason in missing]
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{Path(p).stem}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def _similarity_samples(report: EvaluationReport) -> list[tuple[str, dict[str, list[float]]]]:
    found = []
    for model in report.models:
        result = model.results.get("id-similarity")
        if result is not None and result.applicable:
            found.append((model.label, result.samples))
    return found


def _save(figure: Any, path: Path) -> None:
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png", dpi=110, bbox_inches="tight")


def plot_similarities(samples: list[tuple[str, dict[str, list[float]]]], path: Path) -> Path:
    """InfoSwap Fig. 5: per model, box plots of cos(swap, source) (red) and cos(swap, target)
    (blue); one green box of cos(source, target)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    figure = Figure(figsize=(2.0 + 1.6 * len(samples), 4.2))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    data, positions, colours = [], [], []
    for i, (_, s) in enumerate(samples):
        data += [s["swap_source"], s["swap_target"]]
        positions += [3 * i + 1, 3 * i + 2]
        colours += [_RED, _BLUE]
    data.append(samples[0][1]["source_target"])
    positions.append(3 * len(samples) + 1)
    colours.append(_GREEN)
    boxes = axes.boxplot(data, positions=positions, widths=0.8, patch_artist=True, showfliers=True)
    for box, colour in zip(boxes["boxes"], colours, strict=True):
        box.set_facecolor(colour)
        box.set_alpha(0.6)
    axes.set_xticks([3 * i + 1.5 for i in range(len(samples))] + [3 * len(samples) + 1])
    axes.set_xticklabels([label for label, _ in samples] + ["source-target"], rotation=20, ha="right")
    axes.set_ylabel("cosine similarity")
    axes.set_title("Identity similarities (InfoSwap Fig. 5)")
    axes.legend(handles=[Patch(color=_RED, alpha=0.6, label="swap vs source"),
                         Patch(color=_BLUE, alpha=0.6, label="swap vs target"),
                         Patch(color=_GREEN, alpha=0.6, label="source vs target")],
                loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    _save(figure, path)
    return path


def plot_discriminability(samples: list[tuple[str, dict[str, list[float]]]], path: Path) -> Path:
    """Histograms of cos(swap, target) and cos(swap, source) per model over the belts
    mu_st +- k sigma_st, k = 1, 2, 3 (InfoSwap Fig. 3(b), Sec. 4.2)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.0 * len(samples), 3.6))
    FigureCanvasAgg(figure)
    st = np.asarray(samples[0][1]["source_target"], dtype=np.float64)
    mu, sigma = float(st.mean()), float(st.std(ddof=1)) if st.size > 1 else 0.0
    values = np.concatenate([np.asarray(s[k], dtype=np.float64) for _, s in samples for k in ("swap_source", "swap_target")])
    low, high = min(values.min(), mu - 3 * sigma), max(values.max(), mu + 3 * sigma)
    bins = np.linspace(low - 1e-6, high + 1e-6, 25)
    for i, (label, s) in enumerate(samples):
        axes = figure.add_subplot(1, len(samples), i + 1)
        for k, alpha in ((3, 0.12), (2, 0.2), (1, 0.3)):
            axes.axvspan(mu - k * sigma, mu + k * sigma, color=_GREEN, alpha=alpha, lw=0,
                         label=f"μst ± {k}σst" if i == 0 else None)
        axes.hist(s["swap_target"], bins=bins, color=_BLUE, alpha=0.7, label="swap vs target")
        axes.hist(s["swap_source"], bins=bins, color=_RED, alpha=0.5, label="swap vs source")
        axes.set_title(label)
        axes.set_xlabel("cosine similarity")
        if i == 0:
            axes.set_ylabel("swaps")
            axes.legend(fontsize=7)
    _save(figure, path)
    return path


def write_report(report: EvaluationReport, output: str | Path) -> list[Path]:
    """Write ``report.json``, the plots and ``report.md`` into ``output``; return the paths."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    plots: list[str] = []
    samples = _similarity_samples(report)
    if samples:
        written.append(plot_similarities(samples, output / SIMILARITY_PLOT))
        written.append(plot_discriminability(samples, output / DISCRIMINABILITY_PLOT))
        plots = [SIMILARITY_PLOT, DISCRIMINABILITY_PLOT]
    data = report.to_json()
    data["setup"]["plots"] = plots
    write_json_atomic(output / "report.json", data)
    written.append(output / "report.json")
    write_text_atomic(output / "report.md", render_markdown(report, plots))
    written.append(output / "report.md")
    return written
