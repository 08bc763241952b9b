"""SimSwap's Trainer on the core engine: a tiny config trains a few dozen steps on real faces
and its losses fall; the paper's weights are the defaults; the FM variants select layers; the
identity encoder must be pretrained (dlib-resnet-128 or SimSwap's ArcFace with its weights), and
with dlib-resnet-128 the identity loss moves swaps towards the source."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from simswap_official_layout import TINY, fill, official_arcface_layout
from torch.nn import functional as F
from zoo_plugin_simswap.config import ARCFACE_EMBEDDING_DIM
from zoo_plugin_simswap.train import FEATURE_MATCHING, SimSwapTrainConfig, SimSwapTrainer

import zoo_core
from zoo_core import registry
from zoo_core.errors import ConfigError, WeightsError, ZooError
from zoo_core.evaluate.recognizers import check_recognizer
from zoo_core.nets.dlib_resnet import EMBEDDING_DIM
from zoo_core.train.data import FaceFolder, load_crop
from zoo_core.train.engine import Engine, TrainOptions, train
from zoo_core.train.prepare import prepare_data


@pytest.fixture(scope="module")
def aligned(faces_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("simswap-data")
    prepare_data(faces_dir / "face_recognition", out, template="simswap-224", size=64, workers=1, progress=False)
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
                        trainer_config={"d_channels": 8, "d_layers": 3, "lr": 1e-3, "beta1": 0.5,
                                        "identity_encoder": "dlib-resnet-128", **trainer})


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
    assert (model.spec.identity_encoder, model.config.latent_size) == ("dlib-resnet-128", EMBEDDING_DIM)
    with pytest.raises(ZooError, match="is the identity encoder 'dlib-resnet-128'"):
        check_recognizer("dlib-resnet-torch", model.spec)  # the trained model's encoder is no fair judge


def test_identity_grouping_and_no_feature_matching(simswap_plugin, aligned, tmp_path):
    engine = Engine(run_options(aligned, tmp_path / "ig", sampler="identity-group", feature_matching="nFM"))
    assert type(engine.sampler).__name__ == "IdentityGroupSampler"
    engine.options.max_steps = 2
    engine.run()
    rows = [json.loads(line) for line in (tmp_path / "ig" / "losses.jsonl").read_text().splitlines()]
    assert all(r["generator/feature_matching"] == 0 for r in rows)


def test_stop_and_resume_is_bit_exact(simswap_plugin, aligned, tmp_path, assert_same_run):
    """Stopped at step 3 and resumed to 6, the run ends with every weight of an uninterrupted
    6-step run, bit for bit (the gradient penalty draws from the restored random state)."""

    def run(output: Path, steps: int, resume: str | None = None) -> Path:
        options = run_options(aligned, output).model_copy(update={"max_steps": steps, "checkpoint_every": 3,
                                                                  "resume": resume})
        train(options)
        return output / "checkpoints" / f"step-{steps:08d}"

    straight = run(tmp_path / "straight", 6)
    run(tmp_path / "interrupted", 3)
    run(tmp_path / "interrupted", 6, resume="latest")
    assert sorted(p.name for p in straight.glob("network-*.safetensors")) == [
        "network-discriminator.safetensors", "network-swapper.safetensors"]
    assert_same_run(tmp_path / "straight", tmp_path / "interrupted", 6)


def trainer(**options) -> SimSwapTrainer:
    spec = registry.get_model_spec("simswap-224")
    return SimSwapTrainer(spec, {**spec.default_config, **TINY}, SimSwapTrainConfig(**options))


@pytest.mark.parametrize(("options", "message"), [
    ({}, "simswap-224: SimSwap's ArcFace \\(simswap-arcface\\) has random weights here.*--set identity_weights="
         ".*--set identity_encoder=dlib-resnet-128"),
    ({"identity_encoder": "arcface-iresnet50"}, "'arcface-iresnet50' is built with random weights"),
    ({"identity_encoder": "dlib-resnet-128", "identity_weights": "arcface_checkpoint.tar"},
     "identity_encoder 'dlib-resnet-128' does not take it"),
    ({"identity_encoder": "ffhq"}, "'ffhq' is a template, not an identity encoder"),
])
def test_a_recognizer_without_pretrained_weights_is_refused(simswap_plugin, options, message):
    with pytest.raises(ConfigError, match=message) as caught:
        trainer(**options)
    assert "\n" not in str(caught.value)


def test_identity_weights_load_simswaps_arcface(simswap_plugin, tmp_path):
    official = fill(official_arcface_layout(TINY["identity_depth"], TINY["identity_input_size"]), seed=5)
    torch.save(official, tmp_path / "arcface_checkpoint.tar")
    chosen = trainer(identity_weights=str(tmp_path / "arcface_checkpoint.tar"))
    swapper = chosen.build_networks()["swapper"]
    assert swapper.spec.identity_encoder == "simswap-arcface" and chosen.model_config.latent_size == ARCFACE_EMBEDDING_DIM
    state = swapper.identity_encoder.backbone.state_dict()
    assert state.keys() == official.keys() and all(torch.equal(state[k], official[k]) for k in official)
    torch.save({"first_layer.1.weight": torch.zeros(1)}, tmp_path / "latest_net_G.pth")
    with pytest.raises(WeightsError, match=f"^{tmp_path / 'latest_net_G.pth'}: identity checkpoint holds no SimSwap "
                                           "ArcFace") as caught:
        trainer(identity_weights=str(tmp_path / "latest_net_G.pth")).build_networks()
    assert "\n" not in str(caught.value)


def test_dlib_resnet_128_sets_the_code_size_and_stays_frozen(simswap_plugin):
    chosen = trainer(identity_encoder="dlib-resnet-128")
    assert chosen.model_config.latent_size == EMBEDDING_DIM
    networks = chosen.build_networks()
    optimized = {id(p) for group in chosen.build_optimizers(networks)["generator"].param_groups for p in group["params"]}
    swapper = networks["swapper"].train()
    assert not swapper.identity_encoder.training
    assert not any(p.requires_grad or id(p) in optimized for p in swapper.identity_encoder.parameters())


def source_cosine(model, sources: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean cosine of the swap's identity code to the source's, in eval mode."""
    model.eval()
    with torch.no_grad():
        cosine = F.cosine_similarity(model.identity(model.swap(sources, targets)), model.identity(sources)).mean()
    model.train()
    return float(cosine)


def test_the_identity_loss_moves_swaps_towards_the_source(simswap_plugin, aligned, tmp_path):
    """60 steps with dlib-resnet-128 and a strong identity weight: on every cross-identity pair
    the swap's code turns to the source's, and the logged identity loss falls. Measured with
    seeds 0 and 1 on 1 and 2 threads: the cosine rose by 0.011-0.024 and the loss (mean of the
    last three logs against the first three) fell by 0.014-0.021; the same runs without the
    identity term (lambda_id 0) moved the cosine by -0.003 to +0.001 and the loss by at most
    0.002. The bounds are half the smallest rise and a third of the smallest fall."""
    faces = FaceFolder.scan(aligned)
    crops = torch.from_numpy(np.stack([load_crop(path, 64) for path in faces.paths]))
    ids = np.asarray(faces.identities)
    sources, targets = np.nonzero(ids[:, None] != ids[None])
    pairs = crops[sources], crops[targets]
    options = run_options(aligned, tmp_path / "run", lambda_id=300.0).model_copy(update={"max_steps": 60, "log_every": 5})
    engine = Engine(options)
    model = engine.accelerator.unwrap_model(engine.networks["swapper"])
    before = source_cosine(model, *pairs)
    engine.run()
    assert source_cosine(model, *pairs) > before + 0.005
    losses = [json.loads(line)["generator/identity"] for line in (tmp_path / "run" / "losses.jsonl").read_text().splitlines()]
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.005
