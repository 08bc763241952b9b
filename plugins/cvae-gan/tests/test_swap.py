"""Behaviour of the swap model at a tiny configuration (few channels, 32 px crops)."""

from __future__ import annotations

import pytest
import torch
from cvae_gan_official_layout import TINY, images
from torch.nn import functional as F

from zoo_core import registry
from zoo_core.protocols import SwapModel

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
SIZE = TINY["image_size"]


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def tiny(cvae_gan_plugin):
    torch.manual_seed(0)
    model = registry.create_model("cvae-gan-224", **TINY)
    with torch.no_grad():  # move the batch-norm statistics off their identity initialisation
        for module in model.generator.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def test_swap_shape_range_and_seeded_determinism(tiny):
    assert isinstance(tiny, SwapModel)
    source, target = images(2, SIZE, 1), images(2, SIZE, 2)
    with torch.no_grad():
        first = tiny.swap(source, target, generator=seeded(0))
        again = tiny.swap(source, target, generator=seeded(0))
        other = tiny.swap(source, target, generator=seeded(1))
    assert first.shape == target.shape and first.dtype == torch.float32
    assert 0.0 <= first.min().item() and first.max().item() <= 1.0
    assert torch.equal(first, again)
    assert (first - other).abs().max() > 1e-4  # the latent really is sampled
    assert not torch.allclose(first[0], first[1])  # the pairs really differ


def test_noise_kinds_and_the_deterministic_mode(tiny):
    source, target = images(2, SIZE, 1), images(2, SIZE, 2)
    mu, log_var = tiny.generator.encode(target, tiny.identity(source))
    with torch.no_grad():
        gaussian = tiny.swap(source, target, generator=seeded(3))
        eps = torch.randn(mu.shape, generator=seeded(3))
        explicit = tiny.swap(source, target, eps=eps)
        mean = tiny.swap(source, target, deterministic=True)
        zero = tiny.swap(source, target, eps=torch.zeros_like(mu))
        tiny.generator.config = tiny.generator.config.model_copy(update={"noise": "uniform"})
        uniform = tiny.swap(source, target, generator=seeded(3))
        from_rand = tiny.swap(source, target, eps=torch.rand(mu.shape, generator=seeded(3)))
        tiny.generator.config = tiny.generator.config.model_copy(update={"deterministic": True})
        default_mean = tiny.swap(source, target)
    assert torch.equal(gaussian, explicit)  # default: the paper's Gaussian eps
    assert torch.equal(uniform, from_rand)  # Facke's rand_like
    assert (gaussian - uniform).abs().max() > 1e-4
    assert torch.allclose(mean, zero, atol=1e-6)  # z = mu is eps = 0
    assert torch.equal(default_mean, mean)  # config.deterministic is swap()'s default
    assert (mean - gaussian).abs().max() > 1e-4


def test_posterior_heads_and_reparameterisation(tiny):
    from zoo_plugin_cvae_gan.model import reparameterize, sample_noise

    source, target = images(2, SIZE, 1), images(2, SIZE, 2)
    with torch.no_grad():
        mu, log_var = tiny.generator.encode(target, tiny.identity(source))
    assert mu.shape == log_var.shape == (2, 16, 4, 4)
    assert mu.min() >= 0 and log_var.min() >= 0  # Facke's heads end in ReLU: sigma >= 1
    eps = torch.full_like(mu, 0.5)
    assert torch.allclose(reparameterize(mu, log_var, eps), mu + 0.5 * torch.exp(log_var / 2))
    big = torch.empty(200_000)
    gaussian, uniform = sample_noise(big, "gaussian", seeded(0)), sample_noise(big, "uniform", seeded(0))
    assert abs(gaussian.mean()) < 0.01 and abs(gaussian.std() - 1) < 0.01 and gaussian.min() < -3
    assert 0 <= uniform.min() and uniform.max() < 1 and abs(uniform.mean() - 0.5) < 0.01


def test_target_enters_normalised_with_the_identity_channel_last(tiny):
    source, target = images(1, SIZE, 1), images(1, SIZE, 2)
    latent = tiny.identity(source)
    with torch.no_grad():
        merged = tiny.generator.embedding((target - IMAGENET_MEAN) / IMAGENET_STD, latent)
        expected = tiny.generator.encoder(merged)
        mu, log_var = tiny.generator.encode(target, latent)
    assert merged.shape == (1, 4, SIZE, SIZE) and merged[:, 3].min() >= 0  # ReLU'd identity map
    assert torch.allclose(mu, expected[0], atol=1e-6) and torch.allclose(log_var, expected[1], atol=1e-6)


def test_identity_is_the_simswap_arcface_code(tiny):
    source = images(3, 64, 5)
    with torch.no_grad():
        code = tiny.identity(source)
        size = TINY["identity_input_size"]  # IDExtract.py: ImageNet Normalize, nearest resize, F.normalize
        official = F.interpolate((source - IMAGENET_MEAN) / IMAGENET_STD, size=(size, size))
        expected = F.normalize(tiny.identity_encoder.backbone(official), p=2, dim=1)
    assert code.shape == (3, 512)
    assert torch.allclose(code, expected, atol=1e-6)


def test_identity_changes_the_swap(tiny):
    target = images(1, SIZE, 2)
    with torch.no_grad():
        one = tiny.swap(images(1, SIZE, 7), target, deterministic=True)
        other = tiny.swap(images(1, SIZE, 8), target, deterministic=True)
    assert (one - other).abs().max() > 1e-4


def test_gradients_flow_to_the_generator_and_inputs_not_to_the_arcface(tiny):
    tiny.train()
    assert tiny.generator.training and not tiny.identity_encoder.training  # frozen, as Facke's IDExtractor
    source = images(2, SIZE, 1).requires_grad_()
    target = images(2, SIZE, 2).requires_grad_()
    tiny.swap(source, target, generator=seeded(0)).mean().backward()
    for name, parameter in tiny.generator.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert all(p.grad is None and not p.requires_grad for p in tiny.identity_encoder.parameters())
    assert target.grad.abs().sum() > 0 and source.grad.abs().sum() > 0


def test_one_source_for_many_targets_and_input_checks(tiny):
    source, targets = images(1, SIZE, 1), images(3, SIZE, 2)
    with torch.no_grad():
        many = tiny.swap(source, targets, deterministic=True)
        single = tiny.swap(source, targets[1:2], deterministic=True)
    assert many.shape == targets.shape
    assert torch.allclose(many[1:2], single, atol=1e-6)
    with pytest.raises(ValueError, match="source batch 2 does not match target batch 3"):
        tiny.swap(images(2, SIZE, 1), targets)
    with pytest.raises(ValueError, match=r"expected a \(N, 3, 32, 32\) target"):
        tiny.swap(source, images(1, 64, 2))
    with pytest.raises(ValueError, match=r"eps must have the latent's shape \(1, 16, 4, 4\)"):
        tiny.swap(source, targets[:1], eps=torch.zeros(1, 16, 8, 8))


def test_generator_structure(cvae_gan_plugin):
    with torch.device("meta"):
        model = registry.create_model("cvae-gan-224")
    g = model.generator
    assert g.encoder.first_layer.conv.in_channels == 4 and g.encoder.first_layer.conv.padding_mode == "reflect"
    assert [m.conv.out_channels for m in g.encoder.down] == [128, 256, 512]
    assert [m.conv.out_channels for m in g.decoder.up] == [256, 128, 64]
    assert g.decoder.last_layer.conv.padding_mode == "reflect" and g.decoder.last_layer.norm.num_features == 3
    assert all(b.conv1.padding_mode == "reflect" for b in g.blocks) and len(g.blocks) == 9
    assert g.embedding.linear.out_features == 224 * 224
