"""Hopenet (StyleFace's pose estimator): the converter on a file with the official key layout
(random weights), the bin-expectation decoding and the official crop against hand computations,
and the refusal to run without converted weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from zoo_core import registry
from zoo_core.component_weights import load_component
from zoo_core.convert import convert
from zoo_core.errors import WeightsError, ZooError
from zoo_core.nets.hopenet import decode_bins, hopenet_box, hopenet_input
from zoo_core.nets.hopenet_config import HopenetConfig

TINY = {"layers": (1, 1, 1, 1), "width": 8, "image_size": 64}


def official_state(layers=(3, 4, 6, 3), width=64, bins=66, seed=0) -> dict[str, torch.Tensor]:
    """A state dict named and shaped as the official ``hopenet.Hopenet(Bottleneck, layers, 66)``
    (natanielruiz/deep-head-pose code/hopenet.py): conv1/bn1, layer1-4 of torchvision bottlenecks
    (downsample in each stage's first block), fc_yaw/fc_pitch/fc_roll and the unused fc_finetune;
    BatchNorm without num_batches_tracked, as saved by the PyTorch of 2017-2018."""
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.randn(*shape, generator=generator) * 0.1

    state: dict[str, torch.Tensor] = {}

    def batch_norm(prefix, channels):
        state[f"{prefix}.weight"] = 1 + rand(channels)
        state[f"{prefix}.bias"] = rand(channels)
        state[f"{prefix}.running_mean"] = rand(channels)
        state[f"{prefix}.running_var"] = 1 + rand(channels).abs()

    state["conv1.weight"] = rand(width, 3, 7, 7)
    batch_norm("bn1", width)
    inplanes = width
    for stage, blocks in enumerate(layers):
        planes = width * 2**stage
        for block in range(blocks):
            p = f"layer{stage + 1}.{block}"
            state[f"{p}.conv1.weight"] = rand(planes, inplanes, 1, 1)
            batch_norm(f"{p}.bn1", planes)
            state[f"{p}.conv2.weight"] = rand(planes, planes, 3, 3)
            batch_norm(f"{p}.bn2", planes)
            state[f"{p}.conv3.weight"] = rand(planes * 4, planes, 1, 1)
            batch_norm(f"{p}.bn3", planes * 4)
            if block == 0:
                state[f"{p}.downsample.0.weight"] = rand(planes * 4, inplanes, 1, 1)
                batch_norm(f"{p}.downsample.1", planes * 4)
            inplanes = planes * 4
    for head in ("fc_yaw", "fc_pitch", "fc_roll"):
        state[f"{head}.weight"] = rand(bins, inplanes)
        state[f"{head}.bias"] = rand(bins)
    state["fc_finetune.weight"] = rand(3, inplanes + 3)
    state["fc_finetune.bias"] = rand(3)
    return state


def test_convert_the_released_layout(tmp_path):
    """ResNet-50, 66 bins: every official tensor lands under its name, fc_finetune is dropped."""
    state = official_state()
    path = tmp_path / "hopenet_robust_alpha1.pkl"
    torch.save(state, path, _use_new_zipfile_serialization=False)  # the legacy format of the release
    folder = convert("hopenet", {"model": path}, tmp_path / "hopenet")
    assert list(folder.glob("*.safetensors"))
    loaded = load_component("hopenet", folder).state_dict()
    official = {k: v for k, v in state.items() if not k.startswith("fc_finetune.")}
    assert set(official) == {k for k in loaded if not k.endswith("num_batches_tracked")}
    for key, tensor in official.items():
        assert torch.equal(loaded[key], tensor), key
    body = sum(v.numel() for k, v in official.items() if not k.startswith("fc_") and "running_" not in k)
    assert body == 23_508_032  # torchvision's ResNet-50 without its classifier


def test_heads_are_yaw_pitch_roll_in_order(tmp_path):
    state = official_state(layers=(1, 1, 1, 1), width=8)
    path = tmp_path / "hopenet.pkl"
    torch.save(state, path)
    model = load_component("hopenet", convert("hopenet", {"model": path}, tmp_path / "h", config_overrides=TINY))
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        features = super(type(model), model).forward(images)  # the trunk alone (ResNetBody.forward)
        logits = model(images)
    for index, head in enumerate(("fc_yaw", "fc_pitch", "fc_roll")):
        expected = features @ state[f"{head}.weight"].T + state[f"{head}.bias"]
        assert torch.allclose(logits[:, index], expected, atol=1e-5), head


def test_converter_names_wrong_files(tmp_path):
    state = official_state(layers=(1, 1, 1, 1), width=8)
    del state["fc_roll.bias"]
    state["fc_extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pkl")
    with pytest.raises(WeightsError, match=r"missing official keys: fc_roll\.bias.*unexpected keys: fc_extra\.weight"):
        convert("hopenet", {"model": tmp_path / "bad.pkl"}, tmp_path / "out", config_overrides=TINY)
    small = official_state(layers=(1, 1, 1, 1), width=8, bins=33)
    torch.save(small, tmp_path / "bins.pkl")
    with pytest.raises(WeightsError, match=r"'fc_yaw.weight' has shape \(33, 256\), expected \(66, 256\)"):
        convert("hopenet", {"model": tmp_path / "bins.pkl"}, tmp_path / "out2", config_overrides=TINY)


def test_bin_expectation_by_hand():
    # softmax mass 3/4 on bin 10 and 1/4 on bin 20: E[i] = 12.5, angle = 12.5 * 3 - 99 = -61.5
    logits = torch.full((66,), -1e9)
    logits[10], logits[20] = math.log(3.0), 0.0
    assert decode_bins(logits, 3.0, -99.0).item() == pytest.approx(-61.5)
    # uniform over the 66 bins: E[i] = 32.5, angle = -1.5 (the official decoding has no half-bin shift)
    assert decode_bins(torch.zeros(66), 3.0, -99.0).item() == pytest.approx(-1.5)
    one_hot = torch.full((2, 66), -1e9)
    one_hot[0, 33], one_hot[1, 0] = 0.0, 0.0
    assert decode_bins(one_hot, 3.0, -99.0).tolist() == pytest.approx([0.0, -99.0])


def test_angles_come_out_in_head_order():
    model = registry.create_component("hopenet", **TINY).eval()
    for index, head in enumerate((model.fc_yaw, model.fc_pitch, model.fc_roll)):
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.constant_(head.bias, -1e9)
        head.bias.data[10 * (index + 1)] = 0.0  # bins 10, 20, 30 -> -69, -39, -9 degrees
    with torch.inference_mode():
        angles = model.angles(torch.zeros(1, 3, 64, 64))
    assert angles[0].tolist() == pytest.approx([-69.0, -39.0, -9.0])


def test_official_crop_box_by_hand():
    # 80 x 80 box: half the width each side, 3/4 of the height above, 1/4 below
    assert hopenet_box((100, 120, 180, 200), 400, 300) == (60, 60, 220, 220)
    # odd sizes use the script's integer division (51 -> 25; 35 -> 26 above, 8 below), then clipping
    assert hopenet_box((10, 5, 61, 40), 80, 100) == (0, 0, 80, 48)


def test_official_crop_resize_centre_crop_and_normalisation():
    config = HopenetConfig(**TINY)
    grey = np.full((300, 400, 3), 128, dtype=np.uint8)
    pixels = hopenet_input(grey, (100, 120, 180, 200), config)
    assert pixels.shape == (3, 64, 64) and pixels.dtype == np.float32
    expected = (128 / 255 - np.array(config.mean)) / np.array(config.std)
    assert pixels.mean(axis=(1, 2)) == pytest.approx(expected, abs=1e-5)
    # a wide region (160 x 80 px after the widening) is scaled to 128 x 64 and centre cropped:
    # the kept columns are the middle half, region columns 40..120, image columns 60+40..60+120
    ramp = np.tile(np.arange(400, dtype=np.uint8)[None, :, None] // 2, (300, 1, 3))
    wide = hopenet_input(ramp, (100, 140, 180, 180), config)
    first = wide[0, :, 0] * config.std[0] + config.mean[0]
    last = wide[0, :, -1] * config.std[0] + config.mean[0]
    assert first.mean() * 255 == pytest.approx(100 / 2, abs=1.5) and last.mean() * 255 == pytest.approx(180 / 2, abs=1.5)


def test_metric_refuses_to_run_without_weights():
    from zoo_core.evaluate.engine import Evaluator

    with pytest.raises(ZooError, match="zoo convert hopenet model=hopenet_robust_alpha1.pkl --output DIR.*"
                                       "pose-styleface.weights=DIR"):
        Evaluator("pose-styleface", progress=False)


@pytest.fixture(scope="module")
def hopenet_folder(tmp_path_factory):
    """A small Hopenet with random weights, its heads scaled up so that angles differ by degrees
    between faces (the metric's plumbing does not depend on what the weights learned)."""
    from zoo_core.component_weights import save_component

    torch.manual_seed(0)
    module = registry.create_component("hopenet", **TINY)
    with torch.no_grad():
        for head in (module.fc_yaw, module.fc_pitch, module.fc_roll):
            head.weight.mul_(200.0)
    folder = tmp_path_factory.mktemp("hopenet")
    return save_component(module, "hopenet", folder, config=module.config.model_dump(mode="json"))


def test_pose_error_by_hand_on_real_faces(three_faces, hopenet_folder):
    """The metric's value is the L2 norm of the difference of the (yaw, pitch, roll) that the
    network gives for the official crops of swap and target."""
    from zoo_core.evaluate.metrics import EvaluationContext, SwapRecord
    from zoo_core.evaluate.pose_metrics import build_pose_styleface
    from zoo_core.faces.detect import DlibDetector

    source, target, swap = three_faces
    network = load_component("hopenet", hopenet_folder)

    def angles(crop):
        face = DlibDetector().detect(crop)[0]
        with torch.inference_mode():
            return network.angles(torch.from_numpy(hopenet_input(crop, face.box, network.config))[None])[0].double().numpy()

    difference = angles(swap) - angles(target)
    metric = build_pose_styleface(weights=str(hopenet_folder))
    metric.update(SwapRecord(0, "s", "t", "a", "b", source, target, swap, 0.0, (128, 128)))
    metric.update(SwapRecord(1, "s", "t", "a", "b", source, target, target, 0.0, (128, 128)))  # the target itself
    result = metric.compute(EvaluationContext.__new__(EvaluationContext))
    assert result.samples["l2"] == pytest.approx([math.sqrt(float(np.sum(difference ** 2))), 0.0], rel=1e-6)
    assert result.samples["l2"][0] > 0.1
    assert result.values["yaw_abs_deg"] == pytest.approx(abs(difference[0]) / 2, rel=1e-6)
    assert result.values["roll_abs_deg"] == pytest.approx(abs(difference[2]) / 2, rel=1e-6)
    assert result.values["reference"] == "target" and "pose (Hopenet, °) ↓" in result.summary


def test_pose_error_with_fake_models(fake_run, fake_model, hopenet_folder):
    from zoo_core.evaluate.engine import Evaluator

    _, cache, pairs = fake_run
    evaluator = Evaluator("pose-styleface", metric_options={"pose-styleface": {"weights": str(hopenet_folder)}},
                          progress=False)
    report = evaluator.evaluate([fake_model("source"), fake_model("target")], pairs, cache=cache)
    source, target = (m.results["pose-styleface"] for m in report.models)
    assert target.values["l2"]["mean"] == 0.0 and target.values["pairs"] == len(pairs.pairs)
    assert min(source.samples["l2"]) > 0  # the source's head is not posed as the target's
