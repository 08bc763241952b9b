"""Test helpers: the guided-diffusion ``UNetModel`` state-dict layout (key -> shape) written
from its published key names, reproducible sine-hash weights (``fill``, shared:
``zoo_testing.layouts``) and images, and tiny configurations."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from zoo_plugin_ilvr.config import LINEAR_1000, adm_unet
from zoo_testing.layouts import fill, hash_uniform

__all__ = ["TINY_ADM", "TINY_UNET", "adm_layout", "fill", "images", "tiny_adm_layout", "tiny_config"]

TINY_ADM = {"image_size": 32, "model_channels": 32, "channel_mult": (1, 2), "num_res_blocks": 1,
            "attention_resolutions": (16,), "num_head_channels": 16, "learn_sigma": True}
"""Two levels, attention (4 heads of 16 channels) at 16 px and in the middle block."""

TINY_UNET = {
    "sample_size": 32, "in_channels": 3, "out_channels": 3, "layers_per_block": 1,
    "block_out_channels": [32, 32], "down_block_types": ["DownBlock2D", "AttnDownBlock2D"],
    "up_block_types": ["AttnUpBlock2D", "UpBlock2D"], "norm_num_groups": 8, "attention_head_dim": 8,
}
"""A small DDPM-style UNet (the CelebA-HQ block types) for fast pipeline tests."""


def tiny_config(base: Mapping[str, object], learned: bool = False, **settings: object) -> dict[str, object]:
    """A full ILVR config with a tiny UNet (``learned``: the ADM layout with 6 output channels)."""
    unet = adm_unet(**TINY_ADM) if learned else TINY_UNET
    scheduler = {**LINEAR_1000, "variance_type": "learned_range" if learned else "fixed_small"}
    return {**base, "unet": unet, "scheduler": scheduler, "timestep_respacing": "10", **settings}


def adm_layout(image_size: int, model_channels: int, channel_mult: tuple[int, ...], num_res_blocks: int,
               attention_levels: set[int], out_channels: int) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of ``UNetModel(resblock_updown=True, use_scale_shift_norm=True)``."""
    layout: dict[str, tuple[int, ...]] = {}
    emb = 4 * model_channels

    def conv(name: str, cin: int, cout: int, k: int = 3, dims: int = 2) -> None:
        layout[f"{name}.weight"] = (cout, cin, *([k] * dims))
        layout[f"{name}.bias"] = (cout,)

    def norm(name: str, c: int) -> None:
        layout[f"{name}.weight"] = (c,)
        layout[f"{name}.bias"] = (c,)

    def res(name: str, cin: int, cout: int) -> None:
        norm(f"{name}.in_layers.0", cin)
        conv(f"{name}.in_layers.2", cin, cout)
        layout[f"{name}.emb_layers.1.weight"] = (2 * cout, emb)
        layout[f"{name}.emb_layers.1.bias"] = (2 * cout,)
        norm(f"{name}.out_layers.0", cout)
        conv(f"{name}.out_layers.3", cout, cout)
        if cin != cout:
            conv(f"{name}.skip_connection", cin, cout, 1)

    def attn(name: str, c: int) -> None:
        norm(f"{name}.norm", c)
        conv(f"{name}.qkv", c, 3 * c, 1, 1)
        conv(f"{name}.proj_out", c, c, 1, 1)

    layout["time_embed.0.weight"], layout["time_embed.0.bias"] = (emb, model_channels), (emb,)
    layout["time_embed.2.weight"], layout["time_embed.2.bias"] = (emb, emb), (emb,)
    conv("input_blocks.0.0", 3, model_channels)
    skips, ch, index = [model_channels], model_channels, 1
    for level, mult in enumerate(channel_mult):
        for _ in range(num_res_blocks):
            res(f"input_blocks.{index}.0", ch, mult * model_channels)
            ch = mult * model_channels
            if level in attention_levels:
                attn(f"input_blocks.{index}.1", ch)
            skips.append(ch)
            index += 1
        if level < len(channel_mult) - 1:
            res(f"input_blocks.{index}.0", ch, ch)
            skips.append(ch)
            index += 1
    res("middle_block.0", ch, ch)
    attn("middle_block.1", ch)
    res("middle_block.2", ch, ch)
    index = 0
    for level in reversed(range(len(channel_mult))):
        for j in range(num_res_blocks + 1):
            out = model_channels * channel_mult[level]
            res(f"output_blocks.{index}.0", ch + skips.pop(), out)
            ch = out
            position = 1
            if level in attention_levels:
                attn(f"output_blocks.{index}.1", ch)
                position = 2
            if level and j == num_res_blocks:
                res(f"output_blocks.{index}.{position}", ch, ch)
            index += 1
    norm("out.0", ch)
    conv("out.2", ch, out_channels)
    return layout


def tiny_adm_layout() -> dict[str, tuple[int, ...]]:
    return adm_layout(32, 32, (1, 2), 1, {1}, 6)


def images(n: int, size: int, seed: float) -> torch.Tensor:
    """Reproducible ``(n, 3, size, size)`` values in [-1, 1)."""
    return hash_uniform(n * 3 * size * size, seed).view(n, 3, size, size).float()
