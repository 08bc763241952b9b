"""Converter: Facke's released CVAE-GAN networks -> the state dict of :class:`CVAEGAN`.

Facke's ``CVAE.save`` writes one plain state dict per network,
``checkpoints/<name>/<net>/<iter>.pth``. Inference (``CVAE.init`` with ``isTrain`` false) loads
exactly four of them, and so does this converter (all required):

* ``M1``: ``Merge_Image`` (``emb.0`` Linear, ``emb.1`` BatchNorm1d);
* ``E``: ``Encoder`` (``conv1.{1,2}``, ``down{1,2,3}.{0,1}``, ``mu.{0,1}``, ``log_var.{0,1}``);
* ``M2``: ``Merge_Distribution`` (``ID_blocks.I.{conv1.1, adain1.linear, conv2.1, adain2.linear}``);
* ``D``: ``Decoder`` (``up{1,2,3}.{1,2}``, ``conv2.{1,2}``) -- the decoder, not a discriminator.

The discriminators ``D1``/``D2`` are saved too but only serve training; they are not taken.
``identity`` is SimSwap's ``arcface_checkpoint.tar`` (Facke's ``utils/Arcface/``), accepted in
both pickle formats as by zoo-plugin-simswap. Missing ``num_batches_tracked`` buffers are
filled with zeros; any other missing, unexpected or mis-shaped key is a
:class:`~zoo_core.errors.WeightsError` naming the keys, and a file given for the wrong role is
named for what it looks like.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from zoo_plugin_simswap.convert import identity_state

from zoo_core.convert import few_keys, rename_checked, strip_wrapper_prefix
from zoo_plugin_cvae_gan.config import N_DOWNSAMPLING, CVAEGANConfig
from zoo_plugin_cvae_gan.model import CVAEGANGenerator, build_identity

__all__ = ["GENERATOR_ROLES", "convert_official", "official_key_maps"]

GENERATOR_ROLES = ("M1", "E", "M2", "D")
"""Facke's inference networks, in execution order."""

_BATCH_NORM = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
_PARAMS = ("weight", "bias")
_IDENTITY_ANCHOR = "conv1.weight"

# a key only one kind of file has -> what the file is (for errors about swapped roles)
_SIGNATURES = (
    ("emb.0.weight", "Facke's M1 (Merge_Image)"),
    ("mu.0.weight", "Facke's E (Encoder)"),
    ("ID_blocks.0.conv1.1.weight", "Facke's M2 (Merge_Distribution)"),
    ("up1.1.weight", "Facke's D (Decoder)"),
    ("BottleNeck.0.conv1.1.weight", "a SimSwap generator"),
    ("down4.0.weight", "one of Facke's discriminators D1/D2 (training only)"),
    ("fc.weight", "an ArcFace"),
)


def official_key_maps(config: CVAEGANConfig) -> dict[str, dict[str, str]]:
    """Role -> {official key -> our key (with the ``generator.`` prefix)}."""
    maps: dict[str, dict[str, str]] = {role: {} for role in GENERATOR_ROLES}

    def add(role: str, official: str, ours: str, names: tuple[str, ...]) -> None:
        for name in names:
            maps[role][f"{official}.{name}"] = f"generator.{ours}.{name}"

    add("M1", "emb.0", "embedding.linear", _PARAMS)  # [Linear, BatchNorm1d, ReLU]
    add("M1", "emb.1", "embedding.norm", _BATCH_NORM)
    add("E", "conv1.1", "encoder.first_layer.conv", _PARAMS)  # [ReflectionPad2d, Conv2d, BN, ReLU]
    add("E", "conv1.2", "encoder.first_layer.norm", _BATCH_NORM)
    for k in range(1, N_DOWNSAMPLING + 1):  # downK = [Conv2d, BN, ReLU]
        add("E", f"down{k}.0", f"encoder.down.{k - 1}.conv", _PARAMS)
        add("E", f"down{k}.1", f"encoder.down.{k - 1}.norm", _BATCH_NORM)
    for head in ("mu", "log_var"):  # [Conv2d, BN, ReLU]
        add("E", f"{head}.0", f"encoder.{head}.conv", _PARAMS)
        add("E", f"{head}.1", f"encoder.{head}.norm", _BATCH_NORM)
    for i in range(config.n_blocks):  # conv{1,2} = [ReflectionPad2d, Conv2d, InstanceNorm]
        for j in (1, 2):
            add("M2", f"ID_blocks.{i}.conv{j}.1", f"blocks.{i}.conv{j}", _PARAMS)
            add("M2", f"ID_blocks.{i}.adain{j}.linear", f"blocks.{i}.adain{j}.linear", _PARAMS)
    for k in range(1, N_DOWNSAMPLING + 1):  # upK = [Upsample, Conv2d, BN, ReLU]; up1 runs first
        add("D", f"up{k}.1", f"decoder.up.{k - 1}.conv", _PARAMS)
        add("D", f"up{k}.2", f"decoder.up.{k - 1}.norm", _BATCH_NORM)
    add("D", "conv2.1", "decoder.last_layer.conv", _PARAMS)  # [ReflectionPad2d, Conv2d, BN, Tanh]
    add("D", "conv2.2", "decoder.last_layer.norm", _BATCH_NORM)
    return maps


def _looks_like(state: Mapping[str, torch.Tensor]) -> str | None:
    for key, what in _SIGNATURES:
        if any(k.endswith(key) for k in state):
            return what
    return None


def _note(state: Mapping[str, torch.Tensor], hint: str) -> str | None:
    what = _looks_like(state)
    return f"the file looks like {what}" if what is not None and not hint.startswith(what) else None


def _m1_detail(official: str, tensor: torch.Tensor) -> str:
    if official == "emb.0.weight" and tensor.ndim == 2:
        return f" (M1 maps the code to {tensor.shape[0]} pixels; set image_size to match)"
    return ""


def _describe_identity(state: Mapping[str, torch.Tensor]) -> str:
    what = _looks_like(state)
    return f"it looks like {what}" if what else f"found {few_keys(sorted(state), 4)}"


def convert_official(
    checkpoints: Mapping[str, Mapping[str, torch.Tensor]], config: Mapping[str, Any] | CVAEGANConfig
) -> dict[str, torch.Tensor]:
    """``{"M1", "E", "M2", "D", "identity"}`` official flat state dicts -> our state dict."""
    cfg = config if isinstance(config, CVAEGANConfig) else CVAEGANConfig(**config)
    with torch.device("meta"):  # shapes only: nothing is allocated
        expected = {f"generator.{k}": v for k, v in CVAEGANGenerator(cfg).state_dict().items()}
        expected.update(
            {f"identity_encoder.{k}": v for k, v in build_identity(cfg).state_dict().items()}
        )
    hints = {
        "M1": "Facke's M1 (Merge_Image)",
        "E": "Facke's E (Encoder)",
        "M2": f"Facke's M2 (Merge_Distribution) with {cfg.n_blocks} ID blocks",
        "D": "Facke's D (Decoder)",
    }
    state: dict[str, torch.Tensor] = {}
    for role, mapping in official_key_maps(cfg).items():
        official = strip_wrapper_prefix(checkpoints[role])
        state.update(rename_checked(role, official, mapping, expected, hints[role],
                                    note=_note(official, hints[role]), shape_detail=_m1_detail))

    prefix, identity = identity_state(checkpoints["identity"], _describe_identity)
    backbone_keys = [k[len("identity_encoder.backbone."):] for k in expected if k.startswith("identity_encoder.")]
    where = f"under '{prefix}'" if prefix else "at the top level"
    hint = f"SimSwap's ArcFace IR-SE ResNet-{cfg.identity_depth} (keys {where})"
    mapping = {k: f"identity_encoder.backbone.{k}" for k in backbone_keys}
    state.update(rename_checked("identity", identity, mapping, expected, hint, note=_note(identity, hint)))
    return state
