"""Behaviour of the swap model at a tiny configuration (few channels, 32-64 px crops)."""

from __future__ import annotations

import pytest
import torch
from simswap_official_layout import TINY, images
from torch.nn import functional as F

from zoo_core import registry
from zoo_core.protocols import SwapModel

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@pytest.fixture
def tiny(simswap_plugin):
    torch.manual_seed(0)
    return registry.create_model("simswap-224", **TINY).eval()


@pytest.mark.parametrize("size", [32, 64])
def test_swap_shape_range_and_determinism(tiny, size):
    assert isinstance(tiny, SwapModel)
    source, target = images(2, size, 1), images(2, size, 2)
    with torch.no_grad():
        first, second = tiny.swap(source, target), tiny.swap(source, target)
    assert first.shape == target.shape and first.dtype == torch.float32
    assert 0.0 <= first.min().item() and first.max().item() <= 1.0
    assert torch.equal(first, second)
    assert not torch.allclose(first[0], first[1])  # the pairs really differ


def test_identity_is_the_official_unit_norm_code(tiny):
    source = images(3, 64, 5)
    with torch.no_grad():
        code = tiny.identity(source)
        # the test scripts: ImageNet Normalize on the crop, nearest resize, ArcFace, F.normalize
        size = TINY["identity_input_size"]
        official = F.interpolate((source - IMAGENET_MEAN) / IMAGENET_STD, size=(size, size))
        expected = F.normalize(tiny.identity_encoder.backbone(official), p=2, dim=1)
    assert code.shape == (3, 512)
    assert torch.allclose(code.norm(dim=1), torch.ones(3), atol=1e-6)
    assert torch.allclose(code, expected, atol=1e-6)


def test_identity_changes_the_swap(tiny):
    target = images(1, 32, 2)
    with torch.no_grad():
        one, other = tiny.swap(images(1, 32, 7), target), tiny.swap(images(1, 32, 8), target)
    assert (one - other).abs().max() > 1e-4


def test_gradients_flow_to_the_generator_and_inputs_not_to_the_arcface(tiny):
    tiny.train()
    assert tiny.generator.training and not tiny.identity_encoder.training  # frozen ArcFace, eval as upstream
    source = images(2, 32, 1).requires_grad_()
    target = images(2, 32, 2).requires_grad_()
    tiny.swap(source, target).mean().backward()
    for name, parameter in tiny.generator.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert all(p.grad is None and not p.requires_grad for p in tiny.identity_encoder.parameters())
    assert target.grad.abs().sum() > 0 and source.grad.abs().sum() > 0


def test_one_source_for_many_targets_and_input_checks(tiny):
    source, targets = images(1, 32, 1), images(3, 32, 2)
    with torch.no_grad():
        many = tiny.swap(source, targets)
        single = tiny.swap(source, targets[1:2])
    assert many.shape == targets.shape
    assert torch.allclose(many[1:2], single, atol=1e-6)
    with pytest.raises(ValueError, match="source batch 2 does not match target batch 3"):
        tiny.swap(images(2, 32, 1), targets)
    with pytest.raises(ValueError, match="divisible by 8"):
        tiny.swap(source, images(1, 36, 2))


def test_generator_structure_of_both_resolutions(simswap_plugin):
    with torch.device("meta"):
        small = registry.create_model("simswap-224")
        large = registry.create_model("simswap-512")
    assert [m.conv.out_channels for m in small.generator.down] == [128, 256, 512]
    assert [m.conv.out_channels for m in large.generator.down] == [64, 128, 256, 512]
    assert [m.conv.out_channels for m in small.generator.up] == [256, 128, 64]
    assert [m.conv.out_channels for m in large.generator.up] == [256, 128, 64, 32]
    assert small.generator.first_layer.conv.out_channels == 64
    assert large.generator.first_layer.conv.out_channels == 32
    for model in (small, large):
        norms = [type(m).__name__ for m in model.generator.modules() if "Norm" in type(m).__name__]
        assert set(norms) == {"BatchNorm2d"}  # encoder/decoder: BatchNorm; ID blocks: parameter-free IN
        assert model.generator.first_layer.conv.padding_mode == "reflect"
        assert model.generator.last_layer.conv.padding_mode == "reflect"
        assert all(b.conv1.padding_mode == "reflect" for b in model.generator.blocks)
        assert all(m.conv.padding_mode == "zeros" for m in [*model.generator.down, *model.generator.up])
        assert len(model.generator.blocks) == 9


def test_a_model_on_dlib_resnet_128_codes(simswap_plugin):
    """Another registered identity encoder: its code size is the latent size, the encoder is
    frozen and in eval mode, the spec names it (so evaluation refuses it as recognizer)."""
    from zoo_core.errors import ConfigError, ZooError
    from zoo_core.evaluate.recognizers import check_recognizer
    from zoo_core.nets.dlib_resnet import EMBEDDING_DIM

    with pytest.raises(ConfigError, match=f"latent_size must be {EMBEDDING_DIM}, the size of dlib-resnet-128's"):
        registry.create_model("simswap-224", **TINY, identity_encoder="dlib-resnet-128")
    model = registry.create_model("simswap-224", **TINY, identity_encoder="dlib-resnet-128", latent_size=EMBEDDING_DIM)
    model.train()
    assert model.spec.identity_encoder == "dlib-resnet-128" and not model.identity_encoder.training
    assert registry.get_model_spec("simswap-224").identity_encoder == "simswap-arcface"
    source = images(2, 64, 3).requires_grad_()
    code = model.identity(source)
    assert code.shape == (2, EMBEDDING_DIM) and torch.allclose(code.norm(dim=1), torch.ones(2), atol=1e-6)
    model.swap(source, images(2, 64, 4)).mean().backward()
    assert source.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in model.identity_encoder.parameters())
    with pytest.raises(ZooError, match="'dlib-resnet' is the identity encoder 'dlib-resnet-128'"):
        check_recognizer("dlib-resnet", model.spec)
