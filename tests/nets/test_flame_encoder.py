"""DECA's FLAME-parameter regressor: the released size, the parameter split, DECA's crop rule,
the deca_model.tar converter and the component weights folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoo_core import registry
from zoo_core.component_weights import load_component, save_component
from zoo_core.convert import convert
from zoo_core.errors import ConfigError, InputError, WeightsError
from zoo_core.nets.flame_config import DECA_COARSE, FlameEncoderConfig
from zoo_core.nets.flame_encoder import FlameEncoder, deca_crop, deca_crop_matrix

TINY = {"layers": (1, 1, 1, 1), "width": 8, "hidden": 16, "image_size": 64}


def test_released_encoder_size():
    """ResNet-50 without its classifier (torchvision: 25,557,032 - 2,049,000 for fc) and the
    2048 -> 1024 -> 236 regressor of DECA's E_flame."""
    with torch.device("meta"):
        model = FlameEncoder(DECA_COARSE)
    body = sum(p.numel() for p in model.encoder.parameters())
    regressor = sum(p.numel() for p in model.layers.parameters())
    assert body == 25_557_032 - 2_049_000
    assert regressor == 2048 * 1024 + 1024 + 1024 * 236 + 236
    assert DECA_COARSE.n_params == 236 and model.encoder.out_features == 2048
    keys = model.state_dict().keys()
    assert {"encoder.conv1.weight", "encoder.layer4.2.bn3.running_var", "encoder.layer1.0.downsample.0.weight",
            "layers.0.weight", "layers.2.bias"} <= set(keys)


def test_split_and_input_check():
    torch.manual_seed(0)
    model = FlameEncoder(FlameEncoderConfig(**TINY)).eval()
    with torch.no_grad():
        flat = model(torch.rand(2, 3, 64, 64))
        groups = model.encode(torch.rand(2, 3, 64, 64))
    assert flat.shape == (2, 236)
    assert {k: tuple(v.shape) for k, v in groups.items()} == {
        "shape": (2, 100), "tex": (2, 50), "exp": (2, 50), "pose": (2, 6), "cam": (2, 3), "light": (2, 9, 3)}
    split = model.split(flat)
    assert torch.equal(split["exp"], flat[:, 150:200]) and torch.equal(split["cam"], flat[:, 206:209])
    with pytest.raises(InputError, match=r"\(N, 3, 64, 64\)"):
        model(torch.rand(1, 3, 32, 32))


def test_crop_matrix_matches_decas_similarity():
    """DECA estimates a similarity from three box corners (skimage); ours is the same map."""
    from skimage.transform import estimate_transform

    rng = np.random.default_rng(0)
    points = rng.uniform(40, 160, size=(68, 2))
    left, top = points.min(0)
    right, bottom = points.max(0)
    old = (right - left + bottom - top) / 2 * 1.1
    size = int(old * 1.25)
    cx, cy = right - (right - left) / 2, bottom - (bottom - top) / 2
    src = np.array([[cx - size / 2, cy - size / 2], [cx - size / 2, cy + size / 2], [cx + size / 2, cy - size / 2]])
    dst = np.array([[0, 0], [0, 223], [223, 0]])
    expected = estimate_transform("similarity", src, dst).params[:2]
    np.testing.assert_allclose(deca_crop_matrix(points), expected, atol=1e-9)

    image = (rng.uniform(0, 255, size=(200, 220, 3))).astype(np.uint8)
    crop = deca_crop(image, points)
    assert crop.shape == (224, 224, 3) and crop.dtype == np.float32 and 0 <= crop.min() and crop.max() <= 1
    with pytest.raises(InputError, match="68 finite"):
        deca_crop_matrix(points[:5])


def _deca_checkpoint(path, config: FlameEncoderConfig) -> FlameEncoder:
    """A deca_model.tar-shaped file: E_flame plus detail networks we do not use."""
    torch.manual_seed(1)
    model = FlameEncoder(config).eval()
    for module in model.modules():  # non-trivial batch-norm statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    detail = {"encoder.conv1.weight": torch.zeros(4, 3, 7, 7), "layers.0.weight": torch.zeros(2, 4)}
    torch.save({"E_flame": model.state_dict(), "E_detail": detail, "D_detail": {"conv.weight": torch.zeros(1)}}, path)
    return model


def test_convert_deca_checkpoint_and_load_component(tmp_path):
    config = FlameEncoderConfig(**TINY)
    original = _deca_checkpoint(tmp_path / "deca_model.tar", config)
    folder = convert("deca-flame-encoder", {"model": tmp_path / "deca_model.tar"}, tmp_path / "deca",
                     config_overrides=TINY)
    assert (folder / "model.safetensors").is_file()
    loaded = load_component("deca-flame-encoder", folder)
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(images), original(images), rtol=0, atol=0)
    assert not loaded.training

    save_component(loaded, "deca-flame-encoder", tmp_path / "again", config=dict(TINY))
    with pytest.raises(ConfigError, match="holds component 'deca-flame-encoder', expected 'dlib-hog'"):
        load_component("dlib-hog", tmp_path / "again")


def test_converter_rejects_other_files(tmp_path):
    torch.save({"generator": {"conv.weight": torch.zeros(1)}}, tmp_path / "other.pth")
    with pytest.raises(WeightsError, match="no 'E_flame' entries"):
        convert("deca-flame-encoder", {"model": tmp_path / "other.pth"}, tmp_path / "out", config_overrides=TINY)
    _deca_checkpoint(tmp_path / "deca_model.tar", FlameEncoderConfig(**{**TINY, "width": 4}))
    with pytest.raises(WeightsError, match="shape"):
        convert("deca-flame-encoder", {"model": tmp_path / "deca_model.tar"}, tmp_path / "out", config_overrides=TINY)


def test_component_is_registered_with_its_converter():
    spec = registry.get_component_spec("deca-flame-encoder")
    assert spec.kind == "3dmm_estimator" and spec.default_config["n_exp"] == 50
    (converter,) = registry.get_converters("deca-flame-encoder")
    assert set(converter.roles) == {"model"}
