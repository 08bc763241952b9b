"""Tests for zoo_core.nets.identity: official key layouts, preprocessing and forward behaviour."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError

from zoo_core.errors import ConfigError
from zoo_core.nets.identity import (
    IDENTITY_ENCODER_PRESETS,
    IdentityEncoder,
    IdentityEncoderConfig,
    IResNet,
    IRSEBackbone,
    SimSwapArcFace,
    build_identity_encoder,
)

# Parameter and state-dict entry counts (num_batches_tracked included) of the official modules,
# obtained by building insightface iresnet.py, foamliu/InsightFace-v2 models.py (the class SimSwap
# pickles), pSp model_irse.py and InfoSwap encoder128.py side by side with ours.
OFFICIAL_COUNTS = {
    "arcface-iresnet50": (43_590_848, 475),
    "arcface-iresnet100": (65_156_160, 925),
    "simswap-arcface": (52_193_215, 796),
    "infoswap-irse50": (47_729_856, 397),
    "pixel2style2pixel-irse50": (43_797_696, 397),
}

# A few keys and shapes per preset; ``None`` marks a key that must be absent.
OFFICIAL_KEYS: dict[str, dict[str, tuple[int, ...] | None]] = {
    "arcface-iresnet50": {
        "conv1.weight": (64, 3, 3, 3),
        "prelu.weight": (64,),
        "layer1.0.downsample.0.weight": (64, 64, 1, 1),
        "layer1.0.downsample.1.running_var": (64,),
        "layer3.13.prelu.weight": (256,),
        "layer3.13.bn3.num_batches_tracked": (),
        "layer3.14.bn1.weight": None,
        "layer4.2.conv2.weight": (512, 512, 3, 3),
        "bn2.weight": (512,),
        "fc.weight": (512, 512 * 7 * 7),
        "features.running_mean": (512,),
    },
    "arcface-iresnet100": {
        "layer2.12.conv1.weight": (128, 128, 3, 3),
        "layer3.29.bn3.bias": (256,),
        "layer3.30.bn1.weight": None,
        "features.weight": (512,),
    },
    "simswap-arcface": {
        "conv1.weight": (64, 3, 3, 3),
        "prelu.weight": (1,),
        "layer1.0.bn0.weight": (64,),
        "layer1.0.downsample.0.weight": None,
        "layer2.0.conv1.weight": (64, 64, 3, 3),
        "layer2.0.conv2.weight": (128, 64, 3, 3),
        "layer2.0.downsample.0.weight": (128, 64, 1, 1),
        "layer2.0.downsample.1.running_mean": (128,),
        "layer3.22.prelu.weight": (1,),
        "layer3.22.se.fc.0.weight": (16, 256),
        "layer3.22.se.fc.1.weight": (1,),
        "layer3.22.se.fc.2.bias": (256,),
        "layer3.23.bn0.weight": None,
        "layer4.2.se.fc.0.bias": (32,),
        "fc.weight": (512, 512 * 7 * 7),
        "bn3.running_var": (512,),
    },
    "infoswap-irse50": {
        "input_layer.0.weight": (64, 3, 3, 3),
        "input_layer.2.weight": (64,),
        "body.0.shortcut_layer.0.weight": None,
        "body.3.shortcut_layer.0.weight": (128, 64, 1, 1),
        "body.3.res_layer.2.weight": (128,),
        "body.3.res_layer.5.fc1.weight": (8, 128, 1, 1),
        "body.23.res_layer.5.fc2.weight": (512, 32, 1, 1),
        "body.24.res_layer.0.weight": None,
        "output_layer128.0.weight": (512,),
        "output_layer128.3.weight": (512, 512 * 8 * 8),
        "output_layer128.4.running_var": (512,),
        "output_layer.3.weight": None,
    },
    "pixel2style2pixel-irse50": {
        "body.7.shortcut_layer.1.weight": (256,),
        "body.20.res_layer.5.fc1.weight": (16, 256, 1, 1),
        "output_layer.3.weight": (512, 512 * 7 * 7),
        "output_layer.3.bias": (512,),
        "output_layer.4.weight": (512,),
        "output_layer128.3.weight": None,
    },
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Small CPU workloads: one intra-op thread avoids OpenMP stalls on a busy 2-core machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _meta_encoder(name: str) -> IdentityEncoder:
    with torch.device("meta"):
        return build_identity_encoder(name)


def _tiny(arch: str, depth: int, **overrides: object) -> IdentityEncoder:
    """A real-architecture encoder at a 16 px input (1x1 final map) to keep CPU tests fast."""
    torch.manual_seed(0)
    config = {"arch": arch, "depth": depth, "input_size": 16, **overrides}
    return build_identity_encoder(config).eval()


TINY = {
    "iresnet": ("iresnet", 18),
    "simswap": ("simswap_arcface", 18),
    "irse": ("irse", 50),
}


@pytest.fixture(scope="module", params=sorted(TINY))
def tiny_encoder(request: pytest.FixtureRequest) -> IdentityEncoder:
    return _tiny(*TINY[request.param])


# ------------------------------------------------------------------------------------------------
# Official layouts at the real configurations
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(OFFICIAL_COUNTS))
def test_preset_parameter_and_key_counts(name: str) -> None:
    backbone = _meta_encoder(name).backbone
    params, entries = OFFICIAL_COUNTS[name]
    assert sum(p.numel() for p in backbone.parameters()) == params
    assert len(backbone.state_dict()) == entries


@pytest.mark.parametrize("name", sorted(OFFICIAL_KEYS))
def test_preset_official_key_names_and_shapes(name: str) -> None:
    state = _meta_encoder(name).backbone.state_dict()
    for key, shape in OFFICIAL_KEYS[name].items():
        if shape is None:
            assert key not in state, key
        else:
            assert tuple(state[key].shape) == shape, key


def test_irse_plain_ir_mode_has_no_se_units() -> None:
    with torch.device("meta"):
        backbone = IRSEBackbone(50, "ir")
    state = backbone.state_dict()
    assert sum(p.numel() for p in backbone.parameters()) == 43_574_976
    assert len(state) == 349
    assert not any(".res_layer.5." in key for key in state)


@pytest.mark.parametrize(
    ("name", "size", "shapes"),
    [
        (
            "arcface-iresnet50",
            112,
            [(64, 112, 112), (64, 56, 56), (128, 28, 28), (256, 14, 14), (512, 7, 7)],
        ),
        (
            "simswap-arcface",
            224,
            [(64, 55, 55), (64, 55, 55), (128, 28, 28), (256, 14, 14), (512, 7, 7)],
        ),
    ],
)
def test_resnet_stage_features_at_real_size(
    name: str, size: int, shapes: list[tuple[int, ...]]
) -> None:
    encoder = _meta_encoder(name).eval()
    with torch.device("meta"):
        embedding, feats = encoder(torch.rand(2, 3, size, size), return_features=True)
    assert tuple(embedding.shape) == (2, 512)
    assert [tuple(f.shape[1:]) for f in feats] == shapes


def test_infoswap_features_match_cache_feats_layout() -> None:
    encoder = _meta_encoder("infoswap-irse50").eval()
    with torch.device("meta"):
        _, feats = encoder(torch.rand(1, 3, 512, 512), return_features=True)
    # input_layer output + 24 units; InfoSwap's IIB reads features[:11]
    assert len(feats) == 25
    assert tuple(feats[0].shape) == (1, 64, 128, 128)
    assert tuple(feats[1].shape) == (1, 64, 64, 64)
    assert tuple(feats[10].shape) == (1, 256, 16, 16)
    assert tuple(feats[24].shape) == (1, 512, 8, 8)
    assert encoder.backbone.stage_ends == (3, 7, 21, 24)
    stage_channels = [feats[i].shape[1] for i in encoder.backbone.stage_ends]
    assert stage_channels == [64, 128, 256, 512]


def test_fc_width_follows_input_size() -> None:
    with torch.device("meta"):
        assert IResNet(50, input_size=112).fc.in_features == 512 * 7 * 7
        assert IResNet(50, input_size=128).fc.in_features == 512 * 8 * 8
        assert SimSwapArcFace(101, input_size=112).fc.in_features == 512 * 7 * 7
        assert SimSwapArcFace(101, input_size=128).fc.in_features == 512 * 8 * 8
        assert IRSEBackbone(50, input_size=112).head[3].in_features == 512 * 7 * 7
        assert IRSEBackbone(50, input_size=128).head[3].in_features == 512 * 8 * 8


# ------------------------------------------------------------------------------------------------
# Forward semantics against values computed with the official code
# ------------------------------------------------------------------------------------------------

# First 8 values of the L2-normalised embedding computed by the *official* modules (insightface
# iresnet18; foamliu ResNet(IRBlock, [2, 2, 2, 2], use_se=True); pSp Backbone(50, mode) for IR-SE
# and IR) at 32 px -- their final Linear resized to 512 * 2 * 2 inputs, nothing else changed --
# with the weights of _synthetic_state() and a randn input seeded with 7. Ours matched bit for bit.
OFFICIAL_EMBEDDINGS: dict[tuple[str, int, bool | None], list[float]] = {
    ("iresnet", 18, None): (
        [-0.055673, -0.080687, -0.028776, -0.090024, 0.077855, 0.018593, 0.015359, -0.058849]
    ),
    ("simswap_arcface", 18, True): (
        [-0.034446, 0.042916, 0.026272, 0.037183, -0.020178, -0.084189, -0.060666, 0.03175]
    ),
    ("irse", 50, True): (
        [0.040159, 0.042879, -0.083679, 0.070406, 0.02816, -0.008584, 0.04969, -0.020959]
    ),
    ("irse", 50, False): (
        [-0.087249, 0.03224, -0.025558, -0.065068, 0.108564, 0.010721, -0.045395, -0.030952]
    ),
}


def _synthetic_state(shapes: dict[str, torch.Size]) -> dict[str, torch.Tensor]:
    """Deterministic weights and BN statistics, drawn in sorted-key order."""
    gen = torch.Generator().manual_seed(2024)
    state: dict[str, torch.Tensor] = {}
    for key in sorted(shapes):
        shape = shapes[key]
        if key.endswith("num_batches_tracked"):
            state[key] = torch.zeros((), dtype=torch.long)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen) * 0.5 + 0.75
        elif len(shape) > 1:
            state[key] = torch.randn(shape, generator=gen) / math.sqrt(math.prod(shape[1:]))
        elif key.endswith(("bias", "running_mean")):
            state[key] = torch.randn(shape, generator=gen) * 0.1
        else:  # BN and PReLU weights
            state[key] = torch.rand(shape, generator=gen) * 0.5 + 0.5
    return state


@pytest.mark.parametrize(("arch", "depth", "use_se"), sorted(OFFICIAL_EMBEDDINGS, key=str))
def test_forward_matches_official_reference_values(
    arch: str, depth: int, use_se: bool | None
) -> None:
    config = {"arch": arch, "depth": depth, "use_se": use_se, "input_size": 32}
    with torch.device("meta"):
        backbone = build_identity_encoder(config).backbone
    backbone = backbone.to_empty(device="cpu").eval()
    shapes = {key: value.shape for key, value in backbone.state_dict().items()}
    backbone.load_state_dict(_synthetic_state(shapes), strict=True)
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        embedding = F.normalize(backbone(x), dim=1)
    expected = torch.tensor(OFFICIAL_EMBEDDINGS[(arch, depth, use_se)])
    torch.testing.assert_close(embedding[0, :8], expected, rtol=0, atol=2e-4)


# ------------------------------------------------------------------------------------------------
# State-dict compatibility
# ------------------------------------------------------------------------------------------------


def test_wrapper_state_dict_is_backbone_prefixed_only(tiny_encoder: IdentityEncoder) -> None:
    wrapper_keys = set(tiny_encoder.state_dict())
    backbone_keys = {f"backbone.{k}" for k in tiny_encoder.backbone.state_dict()}
    assert wrapper_keys == backbone_keys  # mean/std are not persisted


def test_official_named_state_dict_loads_strictly(tiny_encoder: IdentityEncoder) -> None:
    target, donor = copy.deepcopy(tiny_encoder), copy.deepcopy(tiny_encoder)
    gen = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for tensor in donor.backbone.state_dict().values():
            if tensor.is_floating_point():  # a positive factor keeps running_var valid
                tensor.mul_(1.0 + torch.rand(tensor.shape, generator=gen))
    x = torch.rand(2, 3, 40, 48)
    with torch.no_grad():
        assert not torch.allclose(target(x), donor(x))
        result = target.backbone.load_state_dict(donor.backbone.state_dict(), strict=True)
        assert not result.missing_keys and not result.unexpected_keys
        torch.testing.assert_close(target(x), donor(x))


def test_head_name_decides_which_checkpoint_loads() -> None:
    with torch.device("meta"):
        infoswap = IRSEBackbone(50, "ir_se", 128, "output_layer128")
        psp_style = IRSEBackbone(50, "ir_se", 128, "output_layer")
    with pytest.raises(RuntimeError, match="output_layer128"):
        infoswap.load_state_dict(psp_style.state_dict(), strict=True, assign=True)


# ------------------------------------------------------------------------------------------------
# Forward behaviour
# ------------------------------------------------------------------------------------------------


def test_embeddings_are_unit_norm(tiny_encoder: IdentityEncoder) -> None:
    with torch.no_grad():
        embedding = tiny_encoder(torch.rand(3, 3, 64, 64))
    assert embedding.shape == (3, 512)
    torch.testing.assert_close(embedding.norm(dim=1), torch.ones(3))


def test_normalize_output_false_returns_raw_backbone_output() -> None:
    encoder = _tiny("iresnet", 18, normalize_output=False)
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        raw = encoder(x)
        expected = encoder.backbone(encoder.preprocess(x))
    torch.testing.assert_close(raw, expected)
    assert not torch.allclose(raw.norm(dim=1), torch.ones(2))


def test_batch_independence(tiny_encoder: IdentityEncoder) -> None:
    x = torch.rand(3, 3, 48, 48)
    with torch.no_grad():
        batched = tiny_encoder(x)
        single = torch.cat([tiny_encoder(x[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(batched, single, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(batched[0], batched[1])


def test_irse_features_are_unit_outputs() -> None:
    encoder = _tiny("irse", 50)
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        embedding, feats = encoder(x, return_features=True)
        backbone = encoder.backbone
        torch.testing.assert_close(feats[0], backbone.input_layer(encoder.preprocess(x)))
        torch.testing.assert_close(feats[8], backbone.body[7](feats[7]))
        torch.testing.assert_close(embedding, F.normalize(backbone.head(feats[-1]), dim=1))
    assert [tuple(feats[i].shape[1:]) for i in (0, *backbone.stage_ends)] == [
        (64, 16, 16),
        (64, 8, 8),
        (128, 4, 4),
        (256, 2, 2),
        (512, 1, 1),
    ]


def test_backbone_rejects_wrong_input_size() -> None:
    encoder = _tiny("iresnet", 18)
    with pytest.raises(ValueError, match=r"\(N, 3, 16, 16\)"):
        encoder.backbone(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match="RGB"):
        encoder(torch.rand(1, 1, 16, 16))


# ------------------------------------------------------------------------------------------------
# Preprocessing: crop, resize, normalise
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def preprocessors() -> dict[str, IdentityEncoder]:
    """Full-size preset encoders (CPU) for the preprocessing tests."""
    names = ("arcface-iresnet50", "simswap-arcface", "infoswap-irse50", "pixel2style2pixel-irse50")
    return {name: build_identity_encoder(name) for name in names}


def test_psp_crop_and_area_pool(preprocessors: dict[str, IdentityEncoder]) -> None:
    encoder = preprocessors["pixel2style2pixel-irse50"]
    x = torch.rand(2, 3, 256, 256)
    torch.testing.assert_close(encoder.crop(x), x[:, :, 35:223, 32:220])
    # pSp id_loss: crop, then AdaptiveAvgPool2d((112, 112)) on [-1, 1] images
    expected = F.adaptive_avg_pool2d(x[:, :, 35:223, 32:220] * 2 - 1, (112, 112))
    torch.testing.assert_close(encoder.preprocess(x), expected)
    # fractional boxes scale with the input: 1024 px -> [140:892, 128:880]
    big = torch.rand(1, 3, 1024, 1024)
    torch.testing.assert_close(encoder.crop(big), big[:, :, 140:892, 128:880])


def test_infoswap_crop_and_bilinear_align_corners(
    preprocessors: dict[str, IdentityEncoder],
) -> None:
    encoder = preprocessors["infoswap-irse50"]
    x = torch.rand(2, 3, 512, 512)
    out = encoder.preprocess(x)
    assert out.shape == (2, 3, 128, 128)
    crop = x[:, :, 37:475, 37:475] * 2 - 1
    expected = F.interpolate(crop, size=(128, 128), mode="bilinear", align_corners=True)
    torch.testing.assert_close(out, expected)
    # align_corners=True keeps the crop's corner pixels exactly
    torch.testing.assert_close(out[:, :, 0, 0], crop[:, :, 0, 0])
    torch.testing.assert_close(out[:, :, -1, -1], crop[:, :, -1, -1])


def test_simswap_nearest_downsample_and_imagenet_stats(
    preprocessors: dict[str, IdentityEncoder],
) -> None:
    encoder = preprocessors["simswap-arcface"]
    x = torch.rand(2, 3, 224, 224)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    # nearest 224 -> 112 keeps every second pixel, starting at 0
    torch.testing.assert_close(encoder.preprocess(x), (x[:, :, ::2, ::2] - mean) / std)


def test_arcface_at_native_size_only_normalises(preprocessors: dict[str, IdentityEncoder]) -> None:
    encoder = preprocessors["arcface-iresnet50"]
    x = torch.rand(1, 3, 112, 112)
    torch.testing.assert_close(encoder.preprocess(x), (x - 0.5) / 0.5)
    # other sizes are resized with antialiased bilinear
    big = torch.rand(1, 3, 224, 224)
    expected = F.interpolate(big, size=(112, 112), mode="bilinear", antialias=True)
    torch.testing.assert_close(encoder.preprocess(big), (expected - 0.5) / 0.5)
    plain = F.interpolate(big, size=(112, 112), mode="bilinear", antialias=False)
    assert not torch.allclose(encoder.preprocess(big), (plain - 0.5) / 0.5)


def test_pixel_crop_box_and_bounds() -> None:
    encoder = _tiny("iresnet", 18, crop_box=(2, 4, 18, 20), crop_units="pixels")
    x = torch.rand(1, 3, 24, 24)
    torch.testing.assert_close(encoder.crop(x), x[:, :, 2:18, 4:20])
    torch.testing.assert_close(encoder.preprocess(x), (x[:, :, 2:18, 4:20] - 0.5) / 0.5)
    with pytest.raises(ValueError, match="exceeds"):
        encoder.crop(torch.rand(1, 3, 16, 24))


def test_fractional_crop_on_non_square_input() -> None:
    encoder = _tiny("iresnet", 18, crop_box=(0.25, 0.0, 0.75, 0.5))
    x = torch.rand(1, 3, 40, 80)
    torch.testing.assert_close(encoder.crop(x), x[:, :, 10:30, 0:40])


# ------------------------------------------------------------------------------------------------
# Configuration
# ------------------------------------------------------------------------------------------------


def test_preset_configuration_values() -> None:
    presets = IDENTITY_ENCODER_PRESETS
    assert presets["arcface-iresnet100"].model_dump(include={"arch", "depth", "mean", "std"}) == {
        "arch": "iresnet",
        "depth": 100,
        "mean": (0.5, 0.5, 0.5),
        "std": (0.5, 0.5, 0.5),
    }
    simswap = presets["simswap-arcface"]
    assert (simswap.depth, simswap.input_size, simswap.interpolation) == (101, 112, "nearest")
    assert simswap.se and not presets["arcface-iresnet50"].se
    infoswap = presets["infoswap-irse50"]
    assert (infoswap.input_size, infoswap.head_name, infoswap.align_corners) == (
        128,
        "output_layer128",
        True,
    )
    assert presets["pixel2style2pixel-irse50"].interpolation == "area"
    assert all(cfg.normalize_output for cfg in presets.values())


def test_build_accepts_config_dict_and_preset_name() -> None:
    config = IDENTITY_ENCODER_PRESETS["infoswap-irse50"]
    with torch.device("meta"):
        from_config = build_identity_encoder(config)
        from_dict = build_identity_encoder(config.model_dump())
        from_name = build_identity_encoder("infoswap-irse50")
    assert from_config.config == from_dict.config == from_name.config == config


@pytest.mark.parametrize(
    "bad",
    [
        {"arch": "iresnet", "depth": 101},
        {"arch": "simswap_arcface", "depth": 50},
        {"arch": "irse", "depth": 34},
        {"arch": "iresnet", "depth": 50, "use_se": True},
        {"arch": "iresnet", "depth": 50, "head_name": "output_layer128"},
        {"arch": "irse", "depth": 50, "interpolation": "area", "align_corners": True},
        {"arch": "irse", "depth": 50, "interpolation": "nearest", "antialias": True},
        {"arch": "irse", "depth": 50, "std": (0.5, 0.0, 0.5)},
        {"arch": "irse", "depth": 50, "crop_box": (0.5, 0.0, 0.4, 1.0)},
        {"arch": "irse", "depth": 50, "crop_box": (0.0, 0.0, 1.5, 1.0)},
        {"arch": "irse", "depth": 50, "crop_box": (0, 0, 10.5, 10), "crop_units": "pixels"},
        {"arch": "irse", "depth": 50, "input_size": 8},
        {"arch": "irse", "depth": 50, "dropout": 0.1},
    ],
)
def test_invalid_configs_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        IdentityEncoderConfig.model_validate(bad)
    with pytest.raises(ConfigError, match="invalid identity encoder config"):
        build_identity_encoder(bad)


def test_unknown_preset_name_lists_choices() -> None:
    with pytest.raises(ConfigError, match="arcface-iresnet50"):
        build_identity_encoder("arcface-r50")
