"""ILVRPipeline on tiny UNets: the ILVR update, determinism, batches, generation, learned variance."""

from __future__ import annotations

import pytest
import torch
from ilvr_official_layout import images, tiny_config
from zoo_plugin_ilvr.resize import LowPass

from zoo_core import registry
from zoo_core.errors import ConfigError


def pairs(n: int = 2, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    return (images(n, size, 1.0) + 1) / 2, (images(n, size, 2.0) + 1) / 2


def test_every_conditioned_step_takes_the_targets_low_frequencies(tiny_ddpm):
    source, target = pairs()
    lowpass = LowPass(32, 4)
    steps: list[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor | None]] = []
    tiny_ddpm.pipeline(target, source, callback=lambda i, t, proposal, x, y: steps.append((t, proposal, x, y)))
    assert [t for t, *_ in steps] == [999, 888, 777, 666, 555, 444, 333, 222, 111, 0]
    conditioned = [s for s in steps if s[3] is not None]
    assert len(conditioned) == 9  # respaced indices 9..1 are > range_t = 0
    for _, proposal, x, y in conditioned:
        # x_{t-1} = phi(y_{t-1}) + x' - phi(x'): phi(x) - phi(y) = (phi^2 - phi)(y - x'), because
        # the official bicubic Resizer is not an exact projection (phi(phi(z)) != phi(z)).
        expected = lowpass(lowpass(y - proposal)) - lowpass(y - proposal)
        torch.testing.assert_close(lowpass(x) - lowpass(y), expected, atol=2e-5, rtol=0)
        gap_before = (lowpass(proposal) - lowpass(y)).abs().mean()
        gap_after = (lowpass(x) - lowpass(y)).abs().mean()
        assert gap_after < 0.3 * gap_before
    assert steps[-1][3] is None  # index 0 is not > range_t: the last step is unconditioned


def test_same_seed_same_output_and_pairs_are_independent(tiny_ddpm):
    source, target = pairs(3)
    run = lambda s, t, seed: tiny_ddpm.pipeline(t, s, generator=torch.Generator().manual_seed(seed)).images  # noqa: E731
    first, second, other = run(source, target, 5), run(source, target, 5), run(source, target, 6)
    assert torch.equal(first, second) and not torch.equal(first, other)
    assert first.shape == target.shape and 0 <= first.min() and first.max() <= 1
    # each output's low frequencies are closer to its own target than to another pair's
    lowpass = LowPass(32, 4)
    for i in range(3):
        own = (lowpass(first[i : i + 1]) - lowpass(target[i : i + 1])).abs().mean()
        foreign = (lowpass(first[i : i + 1]) - lowpass(target[(i + 1) % 3 : (i + 1) % 3 + 1])).abs().mean()
        assert own < foreign


def test_conditioning_range_and_share_noise(tiny_ddpm):
    source, target = pairs(1)
    count = lambda **kw: sum(  # noqa: E731
        y is not None for y in _ys(tiny_ddpm, source, target, **kw)
    )
    assert count(conditioning_range=0) == 9 and count(conditioning_range=4) == 5 and count(conditioning_range=9) == 0
    shared = _ys(tiny_ddpm, source, target, share_noise=True)
    fresh = _ys(tiny_ddpm, source, target, share_noise=False)
    alphas = tiny_ddpm.pipeline.scheduler.alphas_cumprod.double()
    eps_shared = [(y.double() - alphas[t].sqrt() * (target * 2 - 1)) / (1 - alphas[t]).sqrt()
                  for t, y in zip([888, 777, 666], shared[:3], strict=True)]
    torch.testing.assert_close(eps_shared[0], eps_shared[1], atol=1e-4, rtol=0)  # one noise for every y_t
    assert not torch.allclose(shared[1], fresh[1])


def _ys(model, source, target, **kw):
    ys: list = []
    model.pipeline(target, source, generator=torch.Generator().manual_seed(0),
                   callback=lambda i, t, p, x, y: ys.append(y), **kw)
    return ys


def test_swap_and_generate_capabilities(tiny_ddpm):
    source, target = pairs(2)
    torch.manual_seed(3)
    swapped = tiny_ddpm.swap(source, target)
    torch.manual_seed(3)
    assert torch.equal(swapped, tiny_ddpm.swap(source, target))
    generated = tiny_ddpm.generate(target, generator=torch.Generator().manual_seed(0))
    assert generated.shape == target.shape and not torch.equal(generated, swapped)
    assert tiny_ddpm.identity(source).shape == (2, 3 * 32 * 32)
    assert (tiny_ddpm.num_inference_steps, tiny_ddpm.conditioning_range, tiny_ddpm.downsample_factor) == (10, 0, 4)
    seen: list[int] = []
    tiny_ddpm.pipeline(target, source, num_inference_steps=4, callback=lambda i, t, *_: seen.append(t))
    assert seen == [999, 666, 333, 0]


def test_learned_variance_unet_samples(ilvr_plugin):
    spec = registry.get_model_spec("ilvr-ffhq-256")
    torch.manual_seed(0)
    model = registry.create_model("ilvr-ffhq-256", **tiny_config(spec.default_config, learned=True, downsample_factor=8))
    assert model.unet.config.out_channels == 6 and model.pipeline.scheduler.config.variance_type == "learned_range"
    source, target = pairs(1)
    out = model.pipeline(target, source, generator=torch.Generator().manual_seed(0)).images
    assert out.shape == (1, 3, 32, 32) and torch.isfinite(out).all()


def test_bad_inputs_name_the_argument(tiny_ddpm):
    source, target = pairs(1)
    with pytest.raises(ConfigError, match="target: the UNet takes 32x32"):
        tiny_ddpm.pipeline(torch.zeros(1, 3, 64, 64), source)
    with pytest.raises(ConfigError, match="source: expected a"):
        tiny_ddpm.pipeline(target, torch.zeros(3, 32, 32))
    with pytest.raises(ConfigError, match="downsample_factor must be one of"):
        tiny_ddpm.pipeline(target, source, downsample_factor=3)
    with pytest.raises(ConfigError, match="invalid config for 'ilvr-celebahq-256': downsample_factor: .*must be one of"):
        registry.create_model("ilvr-celebahq-256", downsample_factor=12)
