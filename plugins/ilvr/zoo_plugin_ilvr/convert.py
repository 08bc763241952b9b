"""guided-diffusion (ADM) ``UNetModel`` state dict -> diffusers ``UNet2DModel`` (``unet.`` keys).

The ADM attention keeps q, k and v in one 1x1 conv whose output channels are ordered per head
(``QKVAttentionLegacy``: heads first, then q | k | v of ``ch`` channels each); a plain
``chunk(3)`` would mix heads. The split below follows that order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from zoo_core.convert import rename_checked
from zoo_core.errors import WeightsError
from zoo_plugin_ilvr.config import ILVRConfig

HINT = "a guided-diffusion UNetModel (resblock_updown, scale-shift norm) of this configuration"
RESBLOCK = {
    "in_layers.0": "norm1", "in_layers.2": "conv1", "emb_layers.1": "time_emb_proj",
    "out_layers.0": "norm2", "out_layers.3": "conv2", "skip_connection": "conv_shortcut",
}


def split_legacy_qkv(weight: torch.Tensor, heads: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(3C, ...)`` qkv of ``QKVAttentionLegacy`` -> q, k, v ``(C, ...)`` in head order."""
    channels = weight.shape[0] // 3
    per_head = weight.reshape(heads, 3, channels // heads, *weight.shape[1:])
    return tuple(per_head[:, part].reshape(channels, *weight.shape[1:]) for part in range(3))  # type: ignore[return-value]


def _adm_layout(unet: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(resblock prefixes, attention prefixes): official -> ours, for the UNet2DModel config."""
    levels = len(unet["block_out_channels"])
    per_level = unet["layers_per_block"]
    attention = [kind.startswith("Attn") for kind in unet["down_block_types"]]
    res, attn = {"middle_block.0": "mid_block.resnets.0", "middle_block.2": "mid_block.resnets.1"}, {
        "middle_block.1": "mid_block.attentions.0"
    }
    index = 1
    for level in range(levels):
        for j in range(per_level):
            res[f"input_blocks.{index}.0"] = f"down_blocks.{level}.resnets.{j}"
            if attention[level]:
                attn[f"input_blocks.{index}.1"] = f"down_blocks.{level}.attentions.{j}"
            index += 1
        if level < levels - 1:
            res[f"input_blocks.{index}.0"] = f"down_blocks.{level}.downsamplers.0"
            index += 1
    index = 0
    for up in range(levels):
        has_attention = attention[levels - 1 - up]
        for j in range(per_level + 1):
            res[f"output_blocks.{index}.0"] = f"up_blocks.{up}.resnets.{j}"
            if has_attention:
                attn[f"output_blocks.{index}.1"] = f"up_blocks.{up}.attentions.{j}"
            if up < levels - 1 and j == per_level:
                res[f"output_blocks.{index}.{2 if has_attention else 1}"] = f"up_blocks.{up}.upsamplers.0"
            index += 1
    return res, attn


def convert_adm(checkpoints: Mapping[str, Mapping[str, torch.Tensor]], config: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Converter of ``zoo convert ilvr-ffhq-256 unet=ffhq_10m.pt``."""
    from diffusers import UNet2DModel

    unet_config = ILVRConfig(**config).unet
    with torch.device("meta"):
        expected = UNet2DModel(**unet_config).state_dict()
    state = dict(checkpoints["unet"])
    res, attn = _adm_layout(unet_config)
    mapping = {"time_embed.0": "time_embedding.linear_1", "time_embed.2": "time_embedding.linear_2",
               "input_blocks.0.0": "conv_in", "out.0": "conv_norm_out", "out.2": "conv_out"}
    for official, ours in res.items():
        mapping.update({f"{official}.{a}": f"{ours}.{b}" for a, b in RESBLOCK.items()})
    head_dim = unet_config["attention_head_dim"]
    direct: dict[str, str] = {}
    for official, ours in attn.items():
        mapping.update({f"{official}.norm": f"{ours}.group_norm", f"{official}.proj_out": f"{ours}.to_out.0"})
        for suffix in ("weight", "bias"):
            qkv = state.pop(f"{official}.qkv.{suffix}", None)
            if qkv is None:  # reported as a missing official key by rename_checked below
                direct[f"{official}.qkv.{suffix}"] = f"{ours}.to_q.{suffix}"
                continue
            channels = qkv.shape[0] // 3
            if qkv.shape[0] % 3 or channels % head_dim:
                raise WeightsError(
                    f"unet checkpoint does not match {HINT}: {official}.qkv.{suffix} has shape {tuple(qkv.shape)}, "
                    f"not 3 x heads x {head_dim} channels"
                )
            for name, part in zip("qkv", split_legacy_qkv(qkv, channels // head_dim), strict=True):
                state[f"{official}.{name}.{suffix}"] = part.flatten(1) if suffix == "weight" else part
                direct[f"{official}.{name}.{suffix}"] = f"{ours}.to_{name}.{suffix}"
        weight = state.get(f"{official}.proj_out.weight")
        if weight is not None and weight.ndim == 3:
            state[f"{official}.proj_out.weight"] = weight.flatten(1)
    full = {f"{official}.{suffix}": f"{ours}.{suffix}" for official, ours in mapping.items() for suffix in ("weight", "bias")
            if f"{ours}.{suffix}" in expected}
    full.update(direct)
    renamed = rename_checked("unet", state, full, expected, HINT,
                             note="q/k/v are the split of the official attention 'qkv' conv")
    return {f"unet.{key}": value for key, value in renamed.items()}


def convert_diffusers_unet(checkpoints: Mapping[str, Mapping[str, torch.Tensor]], config: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Converter of ``zoo convert ilvr-celebahq-256 unet=diffusion_pytorch_model.safetensors``:
    a diffusers ``UNet2DModel`` file taken as is, every key and shape checked."""
    from diffusers import UNet2DModel

    with torch.device("meta"):
        expected = UNet2DModel(**ILVRConfig(**config).unet).state_dict()
    state = checkpoints["unet"]
    renamed = rename_checked("unet", state, {key: key for key in expected}, expected,
                             "the diffusers UNet2DModel of this configuration (unet/ of the Hub repository)")
    return {f"unet.{key}": value for key, value in renamed.items()}
