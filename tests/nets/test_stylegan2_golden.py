"""Golden checks of the StyleGAN2 block against both official implementations.

Weights: ``fill`` of the official layouts of a tiny 32 px network (``TINY``), read through our
converters. Inputs: ``hash_normal`` codes and ``images``. The expected numbers were computed
once by running the official code on the same weights and inputs:

* rosinality/stylegan2-pytorch (bef283a, ``model.py`` with its native CPU fallbacks,
  channel table patched to TINY): ``Generator(32, 32, 2)`` with ``randomize_noise=False``,
  style mixing + truncation, a w+ with one code per layer, and ``Discriminator(32)``; our
  outputs matched to 2.7e-6
  (images of range about 4.6) and 0 (logits).
* NVlabs/stylegan2-ada-pytorch (d72cc7d, ``training/networks.py``, reference ops on CPU):
  ``Generator(32, 0, 32, 32, 3, channel_base=256, channel_max=16)`` with
  ``noise_mode="const"``, ``force_fp32=True`` and ``truncation_psi=0.7``, and the "resnet"
  ``Discriminator``; our outputs matched to 2.4e-6 and 1.2e-7.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stylegan2_layout import (  # noqa: E402  (the helper module lives next to this file)
    TINY,
    fill,
    hash_normal,
    images,
    layout_of,
    nvidia_layout,
    write_ada_snapshot,
)

from zoo_core.hub import skip_weight_init  # noqa: E402
from zoo_core.nets.stylegan2 import StyleGAN2Config, StyleGAN2Discriminator, StyleGAN2Generator  # noqa: E402
from zoo_core.nets.stylegan2_convert import (  # noqa: E402
    nvidia_discriminator,
    nvidia_generator,
    nvidia_w_avg,
    read_stylegan2_ada_pickle,
    rosinality_discriminator,
    rosinality_generator,
    rosinality_latent_avg,
)

ATOL = 1e-5
CONFIG = StyleGAN2Config(**TINY)

ROSINALITY = {
    # image of g([z1], randomize_noise=False): [0, :, 5, 7], [1, :, 20, 11], per-sample mean, std
    "image": ([-0.40273940563201904, -0.2137431502342224, -1.1521430015563965],
              [-1.5423243045806885, 0.08635790646076202, 1.6706912517547607],
              [-0.6643496155738831, 0.25610655546188354], [0.7457901835441589, 1.0510185956954956]),
    # g([z1, z2], inject_index=3, truncation=0.7, truncation_latent=t): [0, :, 9, 30], means
    "mix": ([-1.0777596235275269, -0.8111892938613892, -1.229278326034546],
            [-1.4732335805892944, -0.4867459535598755]),
    # its latents [1, 2, :4] (z1 side) and [1, 3, :4] (z2 side)
    "latent": ([-0.42252352833747864, -0.3947335481643677, -0.11274093389511108, -0.2328539490699768],
               [0.22395434975624084, 0.0031589269638061523, 0.008392751216888428, -0.40404796600341797]),
    "logits": [-0.23577865958213806, -0.2723225951194763, -0.2722339928150177, -0.27277421951293945],
    # g([w_plus], input_is_latent=True) with a different w per layer: [0, :, 3, 17], mean, std
    "w_plus": ([-0.6643216609954834, -0.10221690684556961, -0.30781668424606323],
               [-0.4834122955799103, -0.13325382769107819], [0.7208988070487976, 0.6756318211555481]),
}
NVIDIA = {
    # synthesis(mapping(z)) with const noise: [0, :, 5, 7], [1, :, 20, 11], mean, std
    "image": ([-0.658392071723938, 0.38223573565483093, 0.9414686560630798],
              [1.142446756362915, 3.8688747882843018, 0.9211673736572266],
              [0.42204996943473816, 0.6131981015205383], [0.7121012806892395, 1.0020297765731812]),
    # G(z, truncation_psi=0.7): [0, :, 9, 30], means
    "truncated": ([-0.13401418924331665, 0.5429947376251221, 0.2670423984527588],
                  [0.4022409915924072, 0.5817472338676453]),
    "w": [0.6992191076278687, -0.15001936256885529, -0.018116246908903122, -0.2648884356021881],
    "logits": [0.548323392868042, 0.4504702687263489, 0.4368589222431183, 0.4709925651550293],
}


def close(actual: torch.Tensor, expected: list) -> None:
    torch.testing.assert_close(actual, torch.tensor(expected), atol=ATOL, rtol=0)


def check_image(image: torch.Tensor, golden: tuple) -> None:
    a, b, mean, std = golden
    close(image[0, :, 5, 7], a)
    close(image[1, :, 20, 11], b)
    close(image.mean(dim=(1, 2, 3)), mean)
    close(image.std(dim=(1, 2, 3)), std)


def build() -> tuple[StyleGAN2Generator, StyleGAN2Discriminator]:
    with skip_weight_init():  # every parameter is overwritten by the strict loads
        return StyleGAN2Generator(CONFIG).eval(), StyleGAN2Discriminator(CONFIG).eval()


def rosinality_checkpoint() -> dict[str, torch.Tensor]:
    """A flat rosinality training checkpoint: g_ema, g, d (FIR buffers as rosinality stores them)."""
    g, d = StyleGAN2Generator(CONFIG), StyleGAN2Discriminator(CONFIG)
    g_state = {**g.state_dict(), **fill(layout_of(g), seed=1)}
    d_state = {**d.state_dict(), **fill(layout_of(d), seed=2)}
    flat = {f"g_ema.{k}": v for k, v in g_state.items()}
    flat.update({f"g.{k}": v.clone() for k, v in g_state.items()})
    flat.update({f"d.{k}": v for k, v in d_state.items()})
    flat["latent_avg"] = torch.zeros(32)
    return flat


@torch.no_grad()
def test_matches_rosinality() -> None:
    checkpoint = rosinality_checkpoint()
    g, d = build()
    g.load_state_dict(rosinality_generator(checkpoint, CONFIG), strict=True)
    d.load_state_dict(rosinality_discriminator(checkpoint, CONFIG), strict=True)
    assert rosinality_latent_avg(checkpoint).shape == (32,)
    z1, z2 = hash_normal((2, 32), 0.25), hash_normal((2, 32), 0.75)
    image, _ = g([z1], randomize_noise=False)
    check_image(image, ROSINALITY["image"])
    t = 0.5 * hash_normal((1, 32), 0.9)
    mix, latent = g([z1, z2], inject_index=3, truncation=0.7, truncation_latent=t,
                    randomize_noise=False, return_latents=True)
    close(mix[0, :, 9, 30], ROSINALITY["mix"][0])
    close(mix.mean(dim=(1, 2, 3)), ROSINALITY["mix"][1])
    close(latent[1, 2, :4], ROSINALITY["latent"][0])
    close(latent[1, 3, :4], ROSINALITY["latent"][1])
    close(d(images(4, 32, 3)).flatten(), ROSINALITY["logits"])
    per_layer, _ = g([0.5 * hash_normal((2, 8, 32), 0.45)], input_is_latent=True, randomize_noise=False)
    close(per_layer[0, :, 3, 17], ROSINALITY["w_plus"][0])
    close(per_layer.mean(dim=(1, 2, 3)), ROSINALITY["w_plus"][1])
    close(per_layer.std(dim=(1, 2, 3)), ROSINALITY["w_plus"][2])


@torch.no_grad()
def test_matches_stylegan2_ada_through_a_snapshot_pickle(tmp_path: Path) -> None:
    g_layout, d_layout = nvidia_layout(32, TINY["channels"], style_dim=32, n_mlp=2)
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    filt = torch.outer(taps, taps) / 64
    filters = {key: filt for key in (*g_layout, *d_layout) if key.endswith("resample_filter")}
    g_state = {**fill(g_layout, seed=3), **{k: v for k, v in filters.items() if k in g_layout}}
    d_state = {**fill(d_layout, seed=4), **{k: v for k, v in filters.items() if k in d_layout}}
    path = tmp_path / "network-snapshot-000000.pkl"
    write_ada_snapshot(path, {"G": g_state, "D": d_state, "G_ema": g_state})
    state = read_stylegan2_ada_pickle(path)
    assert set(state) >= {f"G_ema.{k}" for k in g_layout} | {f"D.{k}" for k in d_layout}
    g, d = build()
    g.load_state_dict(nvidia_generator(state, CONFIG), strict=True)
    d.load_state_dict(nvidia_discriminator(state, CONFIG), strict=True)
    z = hash_normal((2, 32), 0.35)
    w = g.mapping(z)
    close(w[0, :4], NVIDIA["w"])
    check_image(g.synthesis(w.unsqueeze(1).repeat(1, g.n_latent, 1), randomize_noise=False), NVIDIA["image"])
    truncated, _ = g([z], truncation=0.7, truncation_latent=nvidia_w_avg(state), randomize_noise=False)
    close(truncated[0, :, 9, 30], NVIDIA["truncated"][0])
    close(truncated.mean(dim=(1, 2, 3)), NVIDIA["truncated"][1])
    close(d(images(4, 32, 5)).flatten(), NVIDIA["logits"])
