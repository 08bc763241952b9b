"""Converter: the official InfoSwap files -> the state dict of :class:`InfoSwap`.

Roles (flat ``{key: tensor}`` dicts read by the core's safe readers):

* ``generator``: ``ckpt[_ks]_G.pth`` (``AII512`` / ``AII1024``); the unused ``deconv`` (512)
  and ``up3`` (1024: the first decoded level is already 4x4) are dropped;
* ``decoder``: ``ckpt[_ks]_E.pth`` (``UnetDecoder512`` / ``1024``);
* ``iib``: ``ckpt[_ks]_I.pth`` (``IIB``); ``*.smooth.conv.weight`` is required with
  ``smooth=True`` and dropped otherwise (the official demo loads the no-smooth file non-strictly);
* ``identity``: ``model_128_ir_se50.pth`` (``Backbone128``);
* ``readout0`` .. ``readout10``: ``readout_layer<i>.pth`` with ``m``, ``s`` (sum of squared
  deviations), ``n_samples`` and ``neuron_nonzero``: std = sqrt(s / (n - 1)), active =
  nonzero / n > ``active_threshold`` (as ``inference_demo.py``).

Any other missing, unexpected or mis-shaped key is a :class:`~zoo_core.errors.WeightsError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from zoo_core.convert import rename_checked, strip_wrapper_prefix
from zoo_core.errors import WeightsError
from zoo_core.nets.identity import build_identity_encoder
from zoo_plugin_infoswap.config import InfoSwapConfig
from zoo_plugin_infoswap.model import NUM_READOUT, build

__all__ = ["NETWORK_ROLES", "convert_irse50", "convert_official", "readout_stats"]

NETWORK_ROLES = {"generator": "generator.", "decoder": "decoder.", "iib": "iib.", "identity": "identity_encoder.backbone."}
"""Official role -> prefix of its keys in our state dict (keys are otherwise identical)."""
_HINTS = {
    "generator": "the official AII generator (ckpt[_ks]_G.pth)",
    "decoder": "the official U-Net decoder (ckpt[_ks]_E.pth)",
    "iib": "the official IIB (ckpt[_ks]_I.pth)",
    "identity": "InfoSwap's IR-SE50 (model_128_ir_se50.pth)",
}
_READOUT_KEYS = ("m", "s", "n_samples", "neuron_nonzero")


def _dropped(role: str, key: str, config: InfoSwapConfig) -> bool:
    """Official keys with no counterpart: dead layers, or smoothing in the no-smooth mode."""
    if role == "generator":
        return key.startswith("deconv.") or key.startswith("up3.")
    return role == "iib" and not config.smooth and ".smooth." in key


def readout_stats(role: str, state: Mapping[str, torch.Tensor], threshold: float) -> tuple[torch.Tensor, ...]:
    """(mean, std, active) of one ``readout_layer<i>.pth``."""
    missing = [key for key in _READOUT_KEYS if key not in state]
    if missing:
        raise WeightsError(f"{role} checkpoint is not a readout_layer<i>.pth: missing keys {missing}")
    n = state["n_samples"].double().reshape(())
    if n < 2:
        raise WeightsError(f"{role} checkpoint counts {int(n)} samples; at least 2 are needed for a std")
    std = torch.sqrt(state["s"].double() / (n - 1)).float()
    active = (state["neuron_nonzero"].double() / n > threshold).float()
    return state["m"].float(), std, active


def convert_official(checkpoints: Mapping[str, Mapping[str, torch.Tensor]], config: dict[str, Any]) -> dict[str, torch.Tensor]:
    """``zoo convert infoswap-512|1024 generator=... decoder=... iib=... identity=... readout0=...``."""
    cfg = InfoSwapConfig(**config)
    with torch.device("meta"):
        expected = build(None, cfg).state_dict()
    result: dict[str, torch.Tensor] = {}
    for role, prefix in NETWORK_ROLES.items():
        state = strip_wrapper_prefix(checkpoints[role])
        state = {key: value for key, value in state.items() if not _dropped(role, key, cfg)}
        mapping = {key[len(prefix):]: key for key in expected if key.startswith(prefix)}
        result.update(rename_checked(role, state, mapping, expected, _HINTS[role]))
    for i in range(NUM_READOUT):
        role = f"readout{i}"
        for name, value in zip(("mean", "std", "active"), readout_stats(role, checkpoints[role], cfg.active_threshold),
                               strict=True):
            key = f"stats.{name}{i}"
            if tuple(value.shape) != tuple(expected[key].shape):
                raise WeightsError(f"{role} checkpoint has shape {tuple(value.shape)}, expected "
                                   f"{tuple(expected[key].shape)} (R_{i + 1} of the IR-SE50 on "
                                   f"{cfg.identity_input_size} px)")
            result[key] = value
    return result


def convert_irse50(checkpoints: Mapping[str, Mapping[str, torch.Tensor]], config: dict[str, Any]) -> dict[str, torch.Tensor]:
    """``zoo convert infoswap-irse50 identity=model_128_ir_se50.pth``: the recognizer alone, as a
    component folder (the official keys under ``backbone.``)."""
    with torch.device("meta"):
        expected = build_identity_encoder(config).state_dict()
    mapping = {key[len("backbone."):]: key for key in expected}
    return rename_checked("identity", strip_wrapper_prefix(checkpoints["identity"]), mapping, expected,
                          _HINTS["identity"])
