"""Every first-party variant has a card in model_cards/, and every card a variant."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

from zoo_core import cards
from zoo_core.plugins import PluginSet, new_manager, register_plugin
from zoo_core.registry import Registry

REPO = Path(__file__).resolve().parent.parent
REQUIRED_SECTIONS = ("## Intended use", "## Out-of-scope use and misuse", "## Limitations")


def first_party_variants(monkeypatch) -> dict[str, object]:
    plugins = PluginSet(new_manager())
    for folder in sorted((REPO / "plugins").iterdir()):
        if not (folder / "pyproject.toml").is_file():
            continue
        monkeypatch.syspath_prepend(str(folder))
        module = importlib.import_module(f"zoo_plugin_{folder.name.replace('-', '_')}")
        register_plugin(plugins, module, folder.name, f"zoo-plugin-{folder.name}", "")
    assert not plugins.problems, plugins.problems
    return Registry(plugins).models


def test_cards_and_variants_match(monkeypatch):
    variants = first_party_variants(monkeypatch)
    card_names = {p.stem for p in (REPO / "model_cards").glob("*.md") if p.name != "README.md"}
    assert set(variants) - card_names == set(), "variants without a card"
    assert card_names - set(variants) == set(), "cards without a variant"
    for name in card_names:
        text = (REPO / "model_cards" / f"{name}.md").read_text()
        header = yaml.safe_load(text.split("---")[1])
        assert header.get("license"), f"{name}: card needs a license"
        for section in REQUIRED_SECTIONS:
            assert section in text, f"{name}: card lacks '{section}'"


def test_rendered_card_takes_metadata_from_the_spec(example_plugin):
    from zoo_core.registry import get_model_spec

    card = cards.build_card(get_model_spec("example-64"), metrics={"id_retrieval": 0.91})
    data = card.data.to_dict()
    assert data["library_name"] == "zoo" and data["tags"] == ["face-swap", "example"]
    assert data["license"] == "apache-2.0"  # from the card file: no published weights to override it
    assert "| id_retrieval | 0.91 |" in card.text and "tiny random-init AdaIN swapper" in card.text
