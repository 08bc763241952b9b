"""The StyleFace model at a tiny configuration: projector and Z+ levels, AAE shapes,
AttrInjection (Eq. 4-5), swap / de-identify semantics and the hierarchical levels."""

from __future__ import annotations

import pytest
import torch
from styleface_tiny import TINY
from zoo_plugin_styleface.aae import AttrInjection
from zoo_plugin_styleface.config import StyleFaceConfig
from zoo_plugin_styleface.model import StyleFace, parse_levels
from zoo_plugin_styleface.projector import kl_divergence

import zoo_core
from zoo_core.errors import ConfigError
from zoo_core.hub import save_pretrained
from zoo_core.protocols import Deidentifier, SwapModel


def images(n: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def test_registered_variants(styleface_plugin):
    for name, size in (("styleface-256", 256), ("styleface-1024", 1024)):
        spec = zoo_core.registry.get_model_spec(name)
        assert spec.capabilities == {"swap", "deidentify"} and spec.template == "ffhq"
        config = StyleFaceConfig(**spec.default_config)
        assert (config.size, config.style_dim, config.n_mlp, config.aae_divisor) == (size, 512, 8, 8)
        assert config.level_bounds == (16, 128) and config.identity_encoder == spec.identity_encoder


def test_protocols_and_shapes(tiny_model):
    assert isinstance(tiny_model, SwapModel) and isinstance(tiny_model, Deidentifier)
    source, target = images(2, 0), images(2, 1)
    with torch.no_grad():
        out = tiny_model(source, target)
        swapped = tiny_model.swap(source, target)
    assert out["mu"].shape == out["logvar"].shape == out["w"].shape == (2, 3, 64)
    assert out["image"].shape == swapped.shape == (2, 3, 64, 64)
    assert 0 <= swapped.min() and swapped.max() <= 1
    assert tiny_model.identity(source).shape == (2, 3 * 64)
    # one mask per modulated conv, each with the generator's shape at that conv
    generator = tiny_model.generator
    assert len(out["masks"]) == len(generator.conv_resolutions)
    for mask, r, c in zip(out["masks"], generator.conv_resolutions, generator.conv_channels, strict=True):
        assert mask.shape == (2, c, r, r) and 0 <= mask.min() and mask.max() <= 1


def test_aae_matches_the_generator_blocks(tiny_model):
    """f_att has the shape of each GAN block's feature; inner widths are 1/8 of the generator's."""
    features = tiny_model.aae(images(1))
    channels = TINY["channels"]
    assert [f.shape[1:] for f in features] == [(channels[r], r, r) for r in (4, 8, 16, 32, 64)]
    widths = [proj.in_channels for proj in tiny_model.aae.to_generator]
    assert widths == [channels[r] // 8 for r in (4, 8, 16, 32, 64)]


def test_attr_injection_is_eq_4_and_5():
    torch.manual_seed(0)
    module = AttrInjection(6)
    h, f = torch.randn(2, 6, 5, 5), torch.randn(2, 6, 5, 5)
    out, mask = module(h, f)
    expected_mask = torch.sigmoid(torch.nn.functional.conv2d(torch.cat([h, f], 1), module.mask.weight, module.mask.bias))
    torch.testing.assert_close(mask, expected_mask)
    torch.testing.assert_close(out, h + expected_mask * f)


def test_levels_drive_their_own_layers(tiny_model):
    """Changing one level's w changes exactly the S-space codes of that level's resolutions."""
    generator = tiny_model.generator
    expected = [0 if r <= 8 else 1 if r <= 16 else 2 for _, r, _ in generator.style_layers]
    assert tiny_model.style_levels == expected
    w = torch.randn(1, 3, 64)
    moved = w.clone()
    moved[:, 1] += 1.0
    with torch.no_grad():
        before, after = tiny_model.styles(w), tiny_model.styles(moved)
    changed = [not torch.equal(a, b) for a, b in zip(before, after, strict=True)]
    assert changed == [level == 1 for level in expected]


def test_paper_level_split_at_1024():
    config = StyleFaceConfig()
    assert [config.level_of(r) for r in (4, 8, 16, 32, 64, 128, 256, 512, 1024)] == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_deidentify_seeds(tiny_model):
    target = images(1, 3)
    with torch.no_grad():
        first = tiny_model.deidentify(target, torch.Generator().manual_seed(7))
        again = tiny_model.deidentify(target, torch.Generator().manual_seed(7))
        other = tiny_model.deidentify(target, torch.Generator().manual_seed(8))
        z7 = tiny_model.sample_identity(1, torch.Generator().manual_seed(7))
        z8 = tiny_model.sample_identity(1, torch.Generator().manual_seed(8))
    assert torch.equal(first, again)
    assert (first - other).abs().mean() > 1e-3
    # the identities themselves: different codes for different seeds, and z fixes the output
    assert not torch.allclose(z7, z8)
    with torch.no_grad():
        assert torch.equal(tiny_model.deidentify(target, z=z7), first)


def test_hierarchical_levels(tiny_model):
    source, target = images(1, 4), images(1, 5)
    with torch.no_grad():
        full = tiny_model.swap(source, target)
        assert torch.equal(tiny_model.swap(source, target, levels="low,mid,high"), full)
        own = tiny_model.generate(tiny_model.embed(target)[0], target)
        low = tiny_model.swap(source, target, levels=["low"])
        z_s, z_t = tiny_model.embed(source)[0], tiny_model.embed(target)[0]
        mixed = tiny_model.generate(torch.stack([z_s[:, 0], z_t[:, 1], z_t[:, 2]], 1), target)
    torch.testing.assert_close(low, mixed)
    assert (low - full).abs().mean() > 1e-4 and (low - own).abs().mean() > 1e-4


def test_parse_levels():
    assert parse_levels(None) == ("low", "mid", "high")
    assert parse_levels("high, low") == ("low", "high")
    for bad in ("", "low,top", ["middle"]):
        with pytest.raises(ConfigError, match="subset of low,mid,high"):
            parse_levels(bad)


def test_kl_is_eq_1():
    mu, logvar = torch.randn(4, 3, 8), torch.randn(4, 3, 8)
    posterior = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch.distributions.kl_divergence(posterior, prior).flatten(1).sum(1).mean()
    torch.testing.assert_close(kl_divergence(mu, logvar), expected)
    assert kl_divergence(torch.zeros(2, 3, 8), torch.zeros(2, 3, 8)) == 0


def test_identity_encoder_is_frozen(tiny_model):
    tiny_model.train()
    assert not tiny_model.identity_encoder.training
    assert not any(p.requires_grad for p in tiny_model.identity_encoder.parameters())


def test_save_and_load_roundtrip(tiny_variant, tmp_path):
    model = zoo_core.create_model(tiny_variant).eval()
    save_pretrained(model, tmp_path / "tiny")
    loaded = zoo_core.load(f"local-dir:{tmp_path / 'tiny'}")
    source, target = images(1, 6), images(1, 7)
    with torch.no_grad():
        torch.testing.assert_close(loaded.swap(source, target), model.swap(source, target))


def aligned_batch(folder) -> tuple[torch.Tensor, torch.Tensor]:
    """All crops of an identity-folder data set and their identity indices."""
    import numpy as np

    from zoo_core.train.data import FaceFolder, load_crop

    data = FaceFolder.scan(folder)
    crops = torch.from_numpy(np.stack([load_crop(path, 64) for path in data.paths]))
    return crops, torch.tensor(data.identities)


def test_identity_code_spreads_across_real_identities(aligned_faces):
    """At initialisation the means mu of five real people (dlib's recognizer) differ by a large
    fraction of sigma, so z = mu + sigma * eps carries the identity (Eq. 1-2)."""
    torch.manual_seed(0)
    config = StyleFaceConfig(**{**TINY, "identity_encoder": "dlib-resnet-128", "identity_dim": 128})
    model = StyleFace(None, config).eval()
    crops, ids = aligned_batch(aligned_faces)
    with torch.no_grad():
        mu, logvar = model.embed(crops)
    per_identity = torch.stack([mu[ids == i].mean(0) for i in ids.unique()])  # (5, 3, 64)
    between = per_identity.std(0).mean()  # spread of the identities' means, per value
    sigma = (0.5 * logvar).exp().mean()
    assert between > 0.25 * sigma, (between, sigma)
    # and mu tells people apart: photos of one person are closer than photos of two
    distance = torch.cdist(mu.flatten(1), mu.flatten(1))
    same = ids[:, None] == ids[None, :]
    off_diagonal = ~torch.eye(len(ids), dtype=torch.bool)
    assert distance[same & off_diagonal].mean() < 0.8 * distance[~same].mean()


def test_recognizer_sees_arcfaces_template(tiny_model):
    """The ArcFace-family recognizer crops the FFHQ crop so that the template's eyes and mouth
    land where ArcFace's 112 px template has them (measured on rendered dots)."""
    import numpy as np

    from zoo_core.faces.align import umeyama
    from zoo_core.faces.templates import ARCFACE_112, TEMPLATES

    ffhq = np.asarray(TEMPLATES["ffhq"]["points"][0])
    arcface = np.asarray(ARCFACE_112) / 112.0
    # the configured box is the inverse of the least-squares similarity ffhq -> arcface
    matrix = umeyama(ffhq, arcface)
    scale = np.sqrt(np.linalg.det(matrix[:2, :2]))
    left, top = -matrix[:2, 2] / scale
    expected = (top, left, top + 1 / scale, left + 1 / scale)
    assert np.allclose(tiny_model.config.identity_crop_box, expected, atol=1e-4)

    side, yy, xx = 256, *torch.meshgrid(torch.arange(256.0), torch.arange(256.0), indexing="ij")
    encoder = tiny_model.identity_encoder
    seen = []
    for x, y in ffhq * side:
        dot = ((xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2 < 9).float().expand(1, 3, -1, -1)
        resized = encoder.resize(encoder.crop(dot))[0, 0]
        n = resized.shape[-1]
        grid_y, grid_x = torch.meshgrid(torch.arange(n) + 0.5, torch.arange(n) + 0.5, indexing="ij")
        seen.append([(resized * grid_x).sum() / resized.sum() / n, (resized * grid_y).sum() / resized.sum() / n])
    seen = np.asarray(seen)
    eye_distance, mouth_y, eye_y = (seen[1, 0] - seen[0, 0], seen[3:, 1].mean(), seen[:2, 1].mean())
    assert eye_distance == pytest.approx(arcface[1, 0] - arcface[0, 0], abs=0.02)  # 0.315, not 0.246
    assert mouth_y == pytest.approx(arcface[3:, 1].mean(), abs=0.02)  # 0.824, not 0.725
    assert eye_y == pytest.approx(arcface[:2, 1].mean(), abs=0.02)
    assert seen[2, 0] == pytest.approx(0.5, abs=0.01)  # the nose stays centred


def test_attributes_replace_the_noise_input(tiny_model):
    """Eq. 4-5, Fig. 2c: h is the modulated conv's output; M = sigmoid(Conv(h ∘ f_att)) and
    h + M * f_att then goes through the layer's bias and activation (as noise would)."""
    generator = tiny_model.generator
    layer = generator.conv1
    with torch.no_grad():
        layer.activate.bias.normal_()  # a non-zero bias tells "before" from "after" the activation
    seen: dict[str, torch.Tensor] = {}
    hooks = [layer.conv.register_forward_hook(lambda _m, _i, out: seen.setdefault("h", out)),
             layer.activate.register_forward_hook(lambda _m, _i, out: seen.setdefault("out", out))]
    source, target = images(1, 8), images(1, 9)
    try:
        with torch.no_grad():
            w = tiny_model.mapping(tiny_model.embed(source)[0])
            _, masks = tiny_model.synthesize(w, target)
            f_att = tiny_model.aae(target)[0]
    finally:
        for hook in hooks:
            hook.remove()
    h, injection = seen["h"], tiny_model.injections[0]
    mask = torch.sigmoid(torch.nn.functional.conv2d(torch.cat([h, f_att], 1), injection.mask.weight,
                                                    injection.mask.bias))
    torch.testing.assert_close(masks[0], mask)
    expected = torch.nn.functional.leaky_relu(h + mask * f_att + layer.activate.bias.view(1, -1, 1, 1), 0.2) * 2**0.5
    torch.testing.assert_close(seen["out"], expected)
