"""`zoo swap --model infoswap-512` end to end on real photos (random weights, narrow widths),
and the `zoo infoswap stats|heatmaps` commands."""

from __future__ import annotations

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from zoo_plugin_infoswap.config import TINY

from zoo_core import registry
from zoo_core.cli import cli
from zoo_core.faces.io import read_provenance

NARROW_512 = {k: v for k, v in TINY.items() if k != "identity_input_size"}
"""The real 512 geometry (IR-SE on 128 px, 512 px output) with narrow layers."""


@pytest.fixture
def narrow(monkeypatch, infoswap_plugin):
    """``create_model`` builds InfoSwap variants with ``overrides`` (random weights)."""

    def use(overrides: dict) -> None:
        original = registry.create_model

        def create(name: str, **kwargs):
            return original(name, **{**overrides, **kwargs})

        monkeypatch.setattr(registry, "create_model", create)

    return use


def test_zoo_swap_end_to_end(narrow, faces_dir, tmp_path):
    narrow(NARROW_512)
    source, target = faces_dir / "face_recognition/biden/biden.jpg", faces_dir / "face_recognition/obama/obama.jpg"
    out = tmp_path / "swap.png"
    result = CliRunner().invoke(cli, ["swap", "--model", "infoswap-512", "--random-init", "--seed", "0",
                                      "--source", str(source), "--target", str(target), "--output", str(out)])
    assert result.exit_code == 0, result.output
    before, after = np.asarray(Image.open(target).convert("RGB")), np.asarray(Image.open(out))
    assert after.shape == before.shape
    changed = np.any(after != before, axis=2)
    assert 0.02 < changed.mean() < 0.5  # the face changed, the rest of the photo did not
    assert not changed[:20].any() and not changed[-20:].any()
    assert read_provenance(out)["model"] == "infoswap-512"


def test_commands_are_added_through_the_hook(infoswap_plugin):
    group = click.Group("zoo")
    infoswap_plugin.register_commands(cli=group)
    assert set(group.commands["infoswap"].commands) == {"stats", "heatmaps"}


def test_stats_command_stores_readout_statistics(narrow, faces_dir, tmp_path):
    from zoo_plugin_infoswap.commands import infoswap_group

    import zoo_core

    narrow(TINY)
    out = tmp_path / "with-stats"
    result = CliRunner().invoke(infoswap_group, ["stats", "--model", "infoswap-512", "--random-init", "--data",
                                                 str(faces_dir / "celebahq_1024"), "--limit", "6", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "6 photos" in result.output
    model = zoo_core.load(f"local-dir:{out}", config_overrides=None)
    assert model.stats.mean0.abs().sum() > 0 and (model.stats.std3 > 0).any()
    assert not torch.equal(model.stats.std0, torch.ones_like(model.stats.std0))
    bad = CliRunner().invoke(infoswap_group, ["stats", "--model", "infoswap-512", "--random-init", "--data",
                                              str(tmp_path / "missing"), "--output", str(out)])
    assert bad.exit_code != 0 and "no such data folder" in str(bad.exception)


def test_heatmaps_command_writes_one_overlay_per_bottleneck(narrow, faces_dir, tmp_path):
    from zoo_plugin_infoswap.commands import infoswap_group

    narrow(NARROW_512)
    photo = faces_dir / "face_recognition/biden/biden.jpg"
    result = CliRunner().invoke(infoswap_group, ["heatmaps", "--model", "infoswap-512", "--random-init",
                                                 str(photo), "--output", str(tmp_path / "maps")])
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "maps").glob("biden_lambda*.png"))
    assert len(files) == 10
    assert Image.open(files[0]).size == (512, 512)


def test_stats_batch_size_must_be_positive(tmp_path):
    from zoo_plugin_infoswap.commands import infoswap_group

    result = CliRunner().invoke(infoswap_group, ["stats", "--model", "infoswap-512", "--random-init", "--data",
                                                 str(tmp_path), "--batch-size", "0", "--output", str(tmp_path / "o")])
    assert result.exit_code == 2 and "Invalid value for '--batch-size'" in result.output
