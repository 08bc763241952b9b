"""SimSwap's Trainer on the core engine: a tiny config trains a few dozen steps on real faces
and its losses fall; the paper's weights are the defaults; the FM variants select layers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from simswap_official_layout import TINY
from zoo_plugin_simswap.train import FEATURE_MATCHING, SimSwapTrainConfig

import zoo_core
from zoo_core.train.engine import Engine, TrainOptions, train
from zoo_core.train.prepare import prepare_data

FACES = Path(os.environ.get("ZOO_TEST_FACES", Path(__file__).resolve().parents[3].parent / "shared" / "faces"))


@pytest.fixture(scope="module")
def aligned(tmp_path_factory) -> Path:
    if not (FACES / "manifest.csv").is_file():
        pytest.skip(f"real face photos not found at {FACES} (set ZOO_TEST_FACES)")
    out = tmp_path_factory.mktemp("simswap-data")
    prepare_data(FACES / "face_recognition", out, template="simswap-224", size=64, workers=1, progress=False)
    return out


def test_paper_weights_are_the_defaults():
    config = SimSwapTrainConfig()
    assert (config.lambda_id, config.lambda_rec, config.lambda_gp, config.lambda_fm) == (30.0, 10.0, 1e-5, 10.0)
    assert (config.lr, config.beta1, config.feature_matching, config.sampler) == (4e-4, 0.0, "wFM", "alternating")
    levels = list(range(6))  # n_layers=4: five conv levels + logits
    assert levels[FEATURE_MATCHING["wFM"]] == [1, 2, 3, 4] and levels[FEATURE_MATCHING["oFM"]] == [0, 1, 2, 3, 4]
    assert levels[FEATURE_MATCHING["wFM_bar"]] == [0, 1, 2, 3] and FEATURE_MATCHING["nFM"] is None


def run_options(aligned: Path, output: Path, **trainer) -> TrainOptions:
    return TrainOptions(model="simswap-224", data=aligned, output=output, max_steps=30, batch_size=4, tracker="none", resolution=64,
                        checkpoint_every=1000, sample_every=1000, log_every=2, num_workers=0,
                        model_overrides={**TINY, "identity_input_size": 32},
                        trainer_config={"d_channels": 8, "d_layers": 3, "lr": 1e-3, "beta1": 0.5, **trainer})


def test_tiny_simswap_trains_and_losses_fall(simswap_plugin, aligned, tmp_path):
    run = tmp_path / "run"
    final = train(run_options(aligned, run))
    rows = [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]
    for key in ("generator/total", "discriminator/total"):
        values = [r[key] for r in rows]
        assert np.mean(values[-3:]) < 0.9 * np.mean(values[:2]), key  # a clear drop, not a value
    for key in ("generator/identity", "generator/adversarial", "generator/feature_matching",
                "discriminator/hinge", "discriminator/gradient_penalty"):
        assert all(np.isfinite(r[key]) for r in rows)
    model = zoo_core.load(f"local-dir:{final}")
    with torch.no_grad():
        out = model.swap(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 3, 64, 64)


def test_identity_grouping_and_no_feature_matching(simswap_plugin, aligned, tmp_path):
    engine = Engine(run_options(aligned, tmp_path / "ig", sampler="identity-group", feature_matching="nFM"))
    assert type(engine.sampler).__name__ == "IdentityGroupSampler"
    engine.options.max_steps = 2
    engine.run()
    rows = [json.loads(line) for line in (tmp_path / "ig" / "losses.jsonl").read_text().splitlines()]
    assert all(r["generator/feature_matching"] == 0 for r in rows)


def test_stop_and_resume_is_bit_exact(simswap_plugin, aligned, tmp_path):
    """Stopped at step 3 and resumed to 6, the run ends with every weight of an uninterrupted
    6-step run, bit for bit (the gradient penalty draws from the restored random state)."""
    from safetensors.torch import load_file

    def run(output: Path, steps: int, resume: str | None = None) -> Path:
        options = run_options(aligned, output).model_copy(update={"max_steps": steps, "checkpoint_every": 3,
                                                                  "resume": resume})
        train(options)
        return output / "checkpoints" / f"step-{steps:08d}"

    straight = run(tmp_path / "straight", 6)
    run(tmp_path / "interrupted", 3)
    resumed = run(tmp_path / "interrupted", 6, resume="latest")
    networks = sorted(p.name for p in straight.glob("network-*.safetensors"))
    assert networks == ["network-discriminator.safetensors", "network-swapper.safetensors"]
    for weights in networks:
        a, b = load_file(straight / weights), load_file(resumed / weights)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), weights
    a = zoo_core.load(f"local-dir:{tmp_path / 'straight' / 'final'}").state_dict()
    b = zoo_core.load(f"local-dir:{tmp_path / 'interrupted' / 'final'}").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
