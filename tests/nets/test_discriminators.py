from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.nets.discriminators import (
    MultiscaleDiscriminator,
    NLayerDiscriminator,
    get_norm_layer,
)


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# Counted from pix2pixHD's NLayerDiscriminator source (4x4 convs, weights + biases) for
# input_nc=3, ndf=64, n_layers=3: 3->64 (3072 + 64), 64->128 (131072 + 128),
# 128->256 (524288 + 256), 256->512 stride 1 (2097152 + 512), 512->1 (8192 + 1)
# = 2_764_737 per scale; BatchNorm adds 2 * (128 + 256 + 512) = 1_792, InstanceNorm
# (affine=False) adds nothing.
PIX2PIXHD_N3_CONVS = 2_764_737


@pytest.mark.parametrize(
    ("norm", "expected"),
    [("instance", 2 * PIX2PIXHD_N3_CONVS), ("batch", 2 * (PIX2PIXHD_N3_CONVS + 1_792))],
)
def test_pix2pixhd_parameter_count(norm: str, expected: int) -> None:
    with torch.device("meta"):
        d = MultiscaleDiscriminator(3, ndf=64, n_layers=3, norm_layer=norm, num_d=2)
    assert _n_params(d) == expected  # 5_529_474 (instance) / 5_533_058 (batch)


def test_simswap_discriminator_parameter_count() -> None:
    # SimSwap fs_networks.Discriminator: n_layers=4, BatchNorm. Per scale: 3136 + 131200 + 256
    # + 524544 + 512 + 2097664 + 1024 + (512->512: 4194304 + 512) + 1024 + 8193 = 6_962_369.
    with torch.device("meta"):
        d = MultiscaleDiscriminator(3, 64, 4, "batch", num_d=2, get_interm_feat=True, padding=1)
    assert _n_params(d) == 2 * 6_962_369


def test_channels_cap_at_512() -> None:
    with torch.device("meta"):
        d = NLayerDiscriminator(3, ndf=128, n_layers=4, get_interm_feat=True)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [128, 256, 512, 512, 512, 1]
    assert [c.stride for c in convs] == [(2, 2)] * 4 + [(1, 1)] * 2


def _flat_keys(prefix: str, n_layers: int) -> set[str]:
    """pix2pixHD flat-Sequential keys with BatchNorm: [conv, act] + [conv, bn, act] * n + [conv]."""
    keys, idx = {f"{prefix}.0.weight", f"{prefix}.0.bias"}, 2
    for _ in range(n_layers):
        keys |= {f"{prefix}.{idx}.weight", f"{prefix}.{idx}.bias"}
        bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
        keys |= {f"{prefix}.{idx + 1}.{name}" for name in bn}
        idx += 3
    return keys | {f"{prefix}.{idx}.weight", f"{prefix}.{idx}.bias"}


def test_state_dict_keys_flat_layout() -> None:
    d = MultiscaleDiscriminator(3, ndf=8, n_layers=3, num_d=2)
    assert set(d.state_dict()) == _flat_keys("layer0", 3) | _flat_keys("layer1", 3)
    assert set(NLayerDiscriminator(3, 8, 3).state_dict()) == _flat_keys("model", 3)


def test_state_dict_keys_interm_layout() -> None:
    d = MultiscaleDiscriminator(3, ndf=8, n_layers=2, norm_layer="instance", get_interm_feat=True)
    expected = {
        f"scale{i}_layer{j}.0.{p}" for i in range(3) for j in range(4) for p in ("weight", "bias")
    }
    assert set(d.state_dict()) == expected
    single = NLayerDiscriminator(3, 8, 2, "instance", get_interm_feat=True)
    assert {k.split(".")[0] for k in single.state_dict()} == {f"model{j}" for j in range(4)}


def _simswap_state_dict(generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Random weights under the names and shapes of SimSwap's ``Discriminator`` checkpoints."""
    shapes: dict[str, tuple[int, ...]] = {}
    convs = [("down1", 3, 64), ("down2", 64, 128), ("down3", 128, 256), ("down4", 256, 512)]
    convs += [("conv1", 512, 512), ("conv2", 512, 1)]
    for name, c_in, c_out in convs:
        shapes[f"{name}.0.weight"] = (c_out, c_in, 4, 4)
        shapes[f"{name}.0.bias"] = (c_out,)
        if name not in ("down1", "conv2"):
            for p in ("weight", "bias", "running_mean", "running_var"):
                shapes[f"{name}.1.{p}"] = (c_out,)
    sd = {k: torch.randn(s, generator=generator) * 0.05 for k, s in shapes.items()}
    for k in sd:
        if k.endswith("running_var"):
            sd[k] = sd[k].abs() + 0.5
    return sd


def _simswap_forward(sd: dict[str, torch.Tensor], x: torch.Tensor) -> list[torch.Tensor]:
    """SimSwap's Discriminator in eval mode, written with functional ops (padding 1)."""
    feats = []
    for name, stride in [("down1", 2), ("down2", 2), ("down3", 2), ("down4", 2), ("conv1", 1)]:
        x = F.conv2d(x, sd[f"{name}.0.weight"], sd[f"{name}.0.bias"], stride, padding=1)
        if name != "down1":
            bn = [sd[f"{name}.1.{p}"] for p in ("running_mean", "running_var", "weight", "bias")]
            x = F.batch_norm(x, *bn, training=False)
        x = F.leaky_relu(x, 0.2)
        feats.append(x)
    feats.append(F.conv2d(x, sd["conv2.0.weight"], sd["conv2.0.bias"], 1, padding=1))
    return feats


SIMSWAP_LEVELS = {"down1": 0, "down2": 1, "down3": 2, "down4": 3, "conv1": 4, "conv2": 5}


def test_simswap_released_discriminators_map_one_to_one() -> None:
    gen = torch.Generator().manual_seed(0)
    d1, d2 = _simswap_state_dict(gen), _simswap_state_dict(gen)
    ours = MultiscaleDiscriminator(3, 64, 4, "batch", num_d=2, get_interm_feat=True, padding=1)
    converted = {}
    for scale, sd in ((1, d1), (0, d2)):  # D1 sees full resolution, D2 the downsampled image
        for key, value in sd.items():
            module, rest = key.split(".", 1)
            converted[f"scale{scale}_layer{SIMSWAP_LEVELS[module]}.{rest}"] = value
    missing, unexpected = ours.load_state_dict(converted, strict=False)
    assert unexpected == []
    assert all(k.endswith("num_batches_tracked") for k in missing)
    ours.eval()

    x = torch.randn(2, 3, 128, 128, generator=gen)
    x_down = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
    with torch.no_grad():
        out = ours(x)
        expected = [_simswap_forward(d1, x), _simswap_forward(d2, x_down)]
    for got_scale, exp_scale in zip(out, expected, strict=True):
        assert len(got_scale) == 6
        for got, exp in zip(got_scale, exp_scale, strict=True):
            assert got.shape == exp.shape
            assert torch.allclose(got, exp, atol=1e-5)


def _shapes(out: list[list[torch.Tensor]]) -> list[list[tuple[int, ...]]]:
    return [[tuple(t.shape) for t in scale] for scale in out]


def test_multiscale_output_shapes_pix2pixhd_padding() -> None:
    d = MultiscaleDiscriminator(
        3, ndf=8, n_layers=3, norm_layer="instance", num_d=2, get_interm_feat=True
    )
    # 4x4 convs, padding 2: stride 2 gives H/2 + 1, stride 1 gives H + 1. Scale 2 input is 32.
    assert _shapes(d(torch.randn(2, 3, 64, 64))) == [
        [(2, 8, 33, 33), (2, 16, 17, 17), (2, 32, 9, 9), (2, 64, 10, 10), (2, 1, 11, 11)],
        [(2, 8, 17, 17), (2, 16, 9, 9), (2, 32, 5, 5), (2, 64, 6, 6), (2, 1, 7, 7)],
    ]


def test_multiscale_output_shapes_simswap_padding() -> None:
    d = MultiscaleDiscriminator(3, ndf=8, n_layers=3, num_d=2, padding=1)
    # padding 1: stride 2 halves, stride 1 removes one; inputs 64 and 32; logits only.
    assert _shapes(d(torch.randn(2, 3, 64, 64))) == [[(2, 1, 6, 6)], [(2, 1, 2, 2)]]


def test_scales_use_reversed_indices_and_count_exclusive_avg_pool() -> None:
    torch.manual_seed(0)
    d = MultiscaleDiscriminator(
        3, ndf=8, n_layers=2, norm_layer="instance", num_d=2, get_interm_feat=True
    )
    x = torch.randn(2, 3, 32, 32)
    out = d(x)

    def run(levels: list[nn.Module], inp: torch.Tensor) -> torch.Tensor:
        for level in levels:
            inp = level(inp)
        return inp

    pooled = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
    assert torch.allclose(out[0][-1], run(d.scale_levels(1), x))
    assert torch.allclose(out[1][-1], run(d.scale_levels(0), pooled))
    constant = torch.full((1, 3, 9, 9), 2.0)
    assert torch.allclose(d.downsample(constant), torch.full((1, 3, 5, 5), 2.0))


def test_flat_and_interm_layouts_compute_the_same_logits() -> None:
    torch.manual_seed(0)
    interm = MultiscaleDiscriminator(3, ndf=8, n_layers=2, num_d=2, get_interm_feat=True)
    flat = MultiscaleDiscriminator(3, ndf=8, n_layers=2, num_d=2)
    # flat index of each level's first module: [conv, act], [conv, bn, act] x 2, [conv]
    starts = [0, 2, 5, 8]
    converted = {}
    for key, value in interm.state_dict().items():
        head, inner, rest = key.split(".", 2)
        scale, level = head.removeprefix("scale").split("_layer")
        converted[f"layer{scale}.{starts[int(level)] + int(inner)}.{rest}"] = value
    flat.load_state_dict(converted)
    interm.eval()
    flat.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        a, b = interm(x), flat(x)
    assert [len(s) for s in b] == [1, 1]
    for scale_a, scale_b in zip(a, b, strict=True):
        assert torch.allclose(scale_a[-1], scale_b[0], atol=1e-6)


def test_use_sigmoid_bounds_logits() -> None:
    d = NLayerDiscriminator(3, ndf=8, n_layers=2, use_sigmoid=True)
    out = d(torch.randn(2, 3, 32, 32) * 10)
    assert len(out) == 1
    assert isinstance(d.model[-1], nn.Sigmoid)
    assert out[0].min() >= 0 and out[0].max() <= 1


def test_gradients_reach_every_parameter_and_the_input() -> None:
    d = MultiscaleDiscriminator(3, ndf=8, n_layers=2, num_d=2, get_interm_feat=True)
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    sum(scale[-1].sum() for scale in d(x)).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in d.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_norm_layer_choices() -> None:
    assert isinstance(get_norm_layer("batch")(4), nn.BatchNorm2d)
    inst = get_norm_layer("instance")(4)
    assert isinstance(inst, nn.InstanceNorm2d) and not inst.affine
    assert isinstance(get_norm_layer("none")(4), nn.Identity)
    custom = get_norm_layer(lambda c: nn.GroupNorm(2, c))(4)
    assert isinstance(custom, nn.GroupNorm)
    with pytest.raises(ValueError, match="unknown norm"):
        get_norm_layer("layer")  # type: ignore[arg-type]
    plain = NLayerDiscriminator(3, ndf=8, n_layers=2, norm_layer="none", get_interm_feat=True)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    assert isinstance(plain.model1[1], nn.Identity)  # indices stay those of the normed layout


def test_invalid_sizes_raise() -> None:
    with pytest.raises(ValueError, match="n_layers"):
        NLayerDiscriminator(3, n_layers=0)
    with pytest.raises(ValueError, match="num_d"):
        MultiscaleDiscriminator(3, num_d=0)
