"""Model cards: Hub metadata rendered from the spec, prose from the variant's card file.

Card prose is looked up, in order, in the spec's ``card`` package resource (plugins outside
this repository ship their own), then in a source checkout's ``model_cards/<variant>.md``;
without either, a card is generated from the spec alone.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

from zoo_core.specs import ModelSpec

LIBRARY_NAME = "zoo"
REPO_CARDS_DIR = Path(__file__).resolve().parent.parent / "model_cards"

INTENDED_USE = """\
## Intended use

Research on face forgery detection (generating face-swap data to train and test detectors),
de-identification of people in images and video, and research on identity-disentangled
generation. Outputs are synthetic: label them as such.

## Out-of-scope use and misuse

Do not use this model to impersonate, defame or harass people, to create non-consensual
intimate imagery, to commit fraud, or to deceive viewers about what a real person said or did.
Get the consent of the people whose faces you use and follow the law where you work.
Every image written by `zoo swap` carries provenance metadata naming the model."""


def card_path_in_repo(name: str) -> Path:
    return REPO_CARDS_DIR / f"{name}.md"


def find_card_text(spec: ModelSpec) -> str | None:
    """The card prose (with its YAML header) of a variant, or None if it has none."""
    if spec.card:
        package, _, resource = spec.card.partition(":")
        return importlib.resources.files(package).joinpath(resource).read_text(encoding="utf-8")
    path = card_path_in_repo(spec.name)
    return path.read_text(encoding="utf-8") if path.is_file() else None


def card_data(spec: ModelSpec, metrics: dict[str, float] | None = None) -> dict[str, Any]:
    """Hub metadata that the spec determines (always overrides the card file's header)."""
    tags = ["face-swap", spec.family, *sorted(spec.capabilities - {"swap"})]
    data: dict[str, Any] = {
        "library_name": LIBRARY_NAME,
        "tags": tags,
        "pipeline_tag": "image-to-image",
        "model_name": spec.name,
    }
    if spec.weights:
        data["license"] = spec.weights.license
    elif spec.license:
        data["license"] = spec.license
    if spec.datasets:
        data["datasets"] = list(spec.datasets)
    if metrics:
        data["metrics"] = sorted(metrics)
    return data


def build_card(spec: ModelSpec, metrics: dict[str, float] | None = None) -> ModelCard:
    """The variant's card with metadata from the spec and, when known, measured metrics."""
    text = find_card_text(spec)
    card = ModelCard(text) if text else ModelCard(_generated_body(spec))
    merged = {"license": "other", **card.data.to_dict(), **card_data(spec, metrics)}
    card.data = ModelCardData(**merged)
    if metrics:
        rows = "\n".join(f"| {name} | {value:.4g} |" for name, value in sorted(metrics.items()))
        card.text = card.text.rstrip() + f"\n\n## Measured results\n\n| metric | value |\n|---|---|\n{rows}\n"
    return card


def _generated_body(spec: ModelSpec) -> str:
    lines = [f"# {spec.name}", "", spec.description or f"A {spec.family} face-swap model.", ""]
    if spec.paper:
        lines += [f"Paper: [{spec.paper.title}]({spec.paper.url})", ""]
    if spec.source_url:
        lines += [f"Original code: {spec.source_url}", ""]
    lines += [
        "## Model",
        "",
        f"- family: {spec.family}, resolution: {spec.resolution} px, "
        f"capabilities: {', '.join(sorted(spec.capabilities))}",
        f"- alignment template: {spec.template}",
        f"- identity encoder: {spec.identity_encoder or 'none'}",
        f"- plugin: {spec.plugin or 'unknown'}",
        "",
        "## Usage",
        "",
        "```python",
        "import zoo_core",
        f'model = zoo_core.load("{spec.name}")',
        "swapped = model.swap(source, target)  # NCHW RGB in [0, 1], aligned crops",
        "```",
        "",
        INTENDED_USE,
        "",
    ]
    return "\n".join(lines)
