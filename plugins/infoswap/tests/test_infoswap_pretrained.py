"""What InfoSwap training starts from: a pretrained recognizer and its readout statistics
(identity_weights + readout_stats), or a converted official folder (init); anything else is
refused in one line before a network is built."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from infoswap_official_layout import fill, official_checkpoints, official_layouts
from safetensors.torch import load_file
from zoo_plugin_infoswap.config import TINY, InfoSwapConfig
from zoo_plugin_infoswap.model import IDENTITY_PRESET, build, build_recognizer
from zoo_plugin_infoswap.train import InfoSwapTrainConfig, InfoSwapTrainer

from zoo_core import registry
from zoo_core.cli import cli
from zoo_core.component_weights import save_component
from zoo_core.convert import convert
from zoo_core.errors import ConfigError
from zoo_core.hub import save_pretrained

CONFIG = InfoSwapConfig(**TINY).model_dump()
TINY_SETS = [arg for key, value in TINY.items() for arg in ("--set", f"model.{key}={json.dumps(list(value) if isinstance(value, tuple) else value)}")]


def cli_lines(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.strip()]


@pytest.fixture
def tiny_models(monkeypatch, infoswap_plugin):
    """``create_model`` builds the InfoSwap variants at the tiny test size."""
    original = registry.create_model
    monkeypatch.setattr(registry, "create_model", lambda name, **kw: original(name, **{**TINY, **kw}))


@pytest.fixture
def recognizer_folder(tmp_path):
    """An ``infoswap-irse50`` component folder: a random official-layout IR-SE (tiny widths)
    standing in for the pretrained ``model_128_ir_se50.pth``."""
    encoder = build_recognizer(InfoSwapConfig(**TINY))
    encoder.backbone.load_state_dict(fill(official_layouts(CONFIG)["identity"], 11))
    return save_component(encoder, IDENTITY_PRESET, tmp_path / "irse50", config=encoder.config.model_dump(mode="json"))


@pytest.fixture
def photos(faces_dir, tmp_path):
    """A flat folder of four different CelebA-HQ people (every photo its own identity)."""
    folder = tmp_path / "data"
    folder.mkdir()
    for path in sorted((faces_dir / "celebahq_1024").iterdir())[:4]:
        (folder / path.name).symlink_to(path)
    return folder


def trainer(**fields) -> InfoSwapTrainer:
    spec = registry.get_model_spec("infoswap-512")
    return InfoSwapTrainer(spec, TINY, InfoSwapTrainConfig(d_channels=8, d_layers=2, d_scales=2, **fields))


@pytest.mark.parametrize(("sets", "names"), [
    ((), ("identity_weights", "init", "zoo convert infoswap-irse50")),
    (("identity_weights=irse50",), ("readout_stats", "zoo infoswap stats")),
    (("init=x", "identity_weights=y"), ("init alone",)),
])
def test_zoo_train_refuses_a_random_recognizer_in_one_line(infoswap_plugin, tmp_path, sets, names):
    args = ["train", "--model", "infoswap-512", "--data", str(tmp_path), "--output", str(tmp_path / "run"), "--cpu"]
    result = CliRunner().invoke(cli, [*args, *(arg for s in sets for arg in ("--set", s))])
    assert result.exit_code == 1, result.output
    (line,) = cli_lines(result)
    assert line.startswith("error: infoswap-512: ") and all(name in line for name in names), line
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


def test_zoo_train_names_a_variant_not_a_folder(infoswap_plugin, tmp_path):
    result = CliRunner().invoke(cli, ["train", "--model", f"local-dir:{tmp_path}", "--data", str(tmp_path),
                                      "--output", str(tmp_path / "run")])
    assert result.exit_code == 1
    (line,) = cli_lines(result)
    assert line.startswith(f"error: --model local-dir:{tmp_path}: zoo train builds a registered variant"), line


def test_recognizer_and_statistics_from_zoo_infoswap_stats(tiny_models, recognizer_folder, photos, tmp_path):
    """identity_weights loads the recognizer; readout_stats takes the statistics computed with it."""
    from zoo_plugin_infoswap.commands import infoswap_group

    stats = tmp_path / "stats"
    result = CliRunner().invoke(infoswap_group, ["stats", "--model", "infoswap-512", "--identity-weights",
                                                 str(recognizer_folder), "--data", str(photos), "--limit", "4",
                                                 "--output", str(stats)])
    assert result.exit_code == 0, result.output
    t = trainer(identity_weights=str(recognizer_folder), readout_stats=f"local-dir:{stats}")
    swapper = t.build_networks()["swapper"]
    expected = load_file(recognizer_folder / "model.safetensors")
    assert all(torch.equal(value, expected[key]) for key, value in swapper.identity_encoder.state_dict().items())
    saved = load_file(stats / "model.safetensors")
    assert all(torch.equal(value, saved[f"stats.{key}"]) for key, value in swapper.stats.state_dict().items())
    assert not torch.equal(swapper.stats.std0, torch.ones_like(swapper.stats.std0))
    assert not any(p.requires_grad for p in swapper.identity_encoder.parameters())

    # statistics of another recognizer (here: a random one) are refused
    other = tmp_path / "other-stats"
    result = CliRunner().invoke(infoswap_group, ["stats", "--model", "infoswap-512", "--random-init", "--data",
                                                 str(photos), "--limit", "4", "--output", str(other)])
    assert result.exit_code == 0, result.output
    with pytest.raises(ConfigError, match="computed with another recognizer"):
        trainer(identity_weights=str(recognizer_folder), readout_stats=str(other)).build_networks()


def test_a_folder_without_statistics_is_refused(infoswap_plugin, tmp_path):
    model = build(registry.get_model_spec("infoswap-512"), CONFIG)
    save_pretrained(model, tmp_path / "bare")
    with pytest.raises(ConfigError, match="holds no readout statistics"):
        trainer(init=str(tmp_path / "bare")).build_networks()
    save_pretrained(build(registry.get_model_spec("infoswap-512"), {**CONFIG, "smooth": False}), tmp_path / "other")
    with pytest.raises(ConfigError, match="--set model.smooth=false"):
        trainer(init=str(tmp_path / "other")).build_networks()


def test_zoo_train_starts_from_a_converted_official_folder(infoswap_plugin, photos, tmp_path):
    """zoo convert infoswap-512 (official layout, random values), then one Algorithm 1 step on real
    faces from it: the recognizer stays as converted, the trained networks move."""
    paths = {}
    for role, state in official_checkpoints(CONFIG).items():
        paths[role] = tmp_path / f"{role}.pth"
        torch.save(state, paths[role])
    official = convert("infoswap-512", paths, tmp_path / "official", config_overrides=TINY)
    run = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train", "--model", "infoswap-512", "--data", str(photos), "--output", str(run),
                                      "--set", f"init=local-dir:{official}", *TINY_SETS, "--resolution", "256",
                                      "--max-steps", "1", "--batch-size", "2", "--num-workers", "0",
                                      "--tracker", "none", "--cpu", "--seed", "3", "--log-every", "1"])
    assert result.exit_code == 0, result.output
    start, final = load_file(official / "model.safetensors"), load_file(run / "final" / "model.safetensors")
    recognizer = [key for key in start if key.startswith("identity_encoder.")]
    assert recognizer and all(torch.equal(start[key], final[key]) for key in recognizer)
    assert all(torch.equal(start[key], final[key]) for key in start if key.startswith("stats."))
    for prefix in ("iib.", "decoder.", "generator."):
        assert any(not torch.equal(start[k], final[k]) for k in start if k.startswith(prefix)), prefix
    logged = json.loads((run / "losses.jsonl").read_text().splitlines()[-1])
    assert all(torch.isfinite(torch.tensor(value)) for value in logged.values())


@pytest.mark.real_config
def test_zoo_convert_infoswap_irse50_feeds_identity_weights(infoswap_plugin, tmp_path):
    """The released IR-SE50 layout through zoo convert into a component folder the trainer loads."""
    state = fill(official_layouts(InfoSwapConfig().model_dump())["identity"], 5)
    torch.save(state, tmp_path / "model_128_ir_se50.pth")
    result = CliRunner().invoke(cli, ["convert", "infoswap-irse50", f"identity={tmp_path / 'model_128_ir_se50.pth'}",
                                      "--output", str(tmp_path / "irse50")])
    assert result.exit_code == 0, result.output
    from zoo_plugin_infoswap.pretrained import load_recognizer

    model = build(registry.get_model_spec("infoswap-512"), {"channels": 32})
    load_recognizer(model, str(tmp_path / "irse50"))
    backbone = model.identity_encoder.backbone.state_dict()
    assert backbone.keys() == state.keys() and all(torch.equal(backbone[k], state[k]) for k in state)
    small = build(registry.get_model_spec("infoswap-512"), CONFIG)
    with pytest.raises(ConfigError, match="another preprocessing: input_size=128"):
        load_recognizer(small, str(tmp_path / "irse50"))
