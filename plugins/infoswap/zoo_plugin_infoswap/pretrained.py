"""What InfoSwap training starts from (supplement Alg. 1, "Require"): the pretrained, frozen
recognizer f(.) and the readout statistics mu_Ri, sigma_Ri computed with it.

Two ways, one of which a run must name (a random recognizer would make every IB term
meaningless, and default statistics, mean 0 and std 1, the noise of Eq. 4 wrong):

* ``identity_weights``: a component folder of ``infoswap-irse50`` (``zoo convert infoswap-irse50
  identity=model_128_ir_se50.pth -o DIR``), with ``readout_stats``: an InfoSwap folder whose
  ``stats.*`` were computed with that same recognizer (``zoo infoswap stats --identity-weights``);
  the IIB, decoder and AII start from random weights as in Alg. 1;
* ``init``: an InfoSwap folder to start every network from (``zoo convert infoswap-512 ...`` of
  the official release, which ships the IR-SE50 and the readout files, or an earlier run).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from zoo_core.component_weights import read_component_config
from zoo_core.errors import ConfigError
from zoo_core.hub import (
    CONFIG_NAME,
    HF_PREFIX,
    LOCAL_PREFIX,
    fetch,
    load_state_dict_strict,
    parse_source,
    read_config,
    read_weights,
)
from zoo_plugin_infoswap.model import IDENTITY_PRESET, NUM_READOUT, InfoSwap

CONVERT_RECOGNIZER = "zoo convert infoswap-irse50 identity=model_128_ir_se50.pth -o DIR"
STATS_COMMAND = "zoo infoswap stats --model infoswap-512 --identity-weights DIR --data DATA -o STATS"


def folder_of(source: str) -> Path:
    """The local folder of ``source``: a path, ``local-dir:PATH`` or ``hf-hub:ORG/REPO[@REV]``."""
    text = source if source.startswith((HF_PREFIX, LOCAL_PREFIX)) else LOCAL_PREFIX + source
    return fetch(parse_source(text))


def check_sources(name: str, init: str | None, identity_weights: str | None, readout_stats: str | None) -> None:
    """Refuse a run whose recognizer or statistics would not be pretrained, in one line."""
    if init is not None and (identity_weights is not None or readout_stats is not None):
        raise ConfigError(f"{name}: init already holds the recognizer and its readout statistics; give init "
                          "alone, or identity_weights with readout_stats")
    if init is None and identity_weights is None:
        raise ConfigError(f"{name}: the recognition network f (IR-SE50) must be pretrained and frozen (paper "
                          f"Sec. 3) but would have random weights: --set identity_weights=DIR ({CONVERT_RECOGNIZER}) "
                          "with --set readout_stats=STATS (zoo infoswap stats), or --set init=DIR (a folder of "
                          "zoo convert infoswap-512 ...)")
    if init is None and readout_stats is None:
        raise ConfigError(f"{name}: identity_weights needs readout_stats=STATS, mu and sigma of R_1..R_11 over "
                          f"the training photos with that recognizer (supplement Sec. 1.1): {STATS_COMMAND}")


def load_recognizer(model: InfoSwap, source: str) -> None:
    """An ``infoswap-irse50`` component folder into the model's IR-SE50 (strict)."""
    folder = folder_of(source)
    data = read_component_config(folder, IDENTITY_PRESET)
    expected = model.identity_encoder.config.model_dump(mode="json")
    differing = sorted(key for key in expected if data["config"].get(key) != expected[key])
    if differing:
        shown = ", ".join(f"{key}={data['config'].get(key)!r} (the model's: {expected[key]!r})" for key in differing)
        raise ConfigError(f"{folder / CONFIG_NAME}: a recognizer for another preprocessing: {shown}")
    load_state_dict_strict(model.identity_encoder, read_weights(folder), str(folder))


def check_statistics(model: InfoSwap, origin: Path) -> None:
    """Refuse the defaults ReadoutStats starts from (mean 0, std 1 everywhere)."""
    for i in range(NUM_READOUT):
        mean, std, _ = model.stats.get(i)
        if not (torch.all(mean == 0) and torch.all(std == 1)):
            return
    raise ConfigError(f"{origin}: holds no readout statistics (mean 0, std 1 everywhere): {STATS_COMMAND}")


def load_readout_stats(model: InfoSwap, source: str) -> None:
    """The ``stats.*`` of an InfoSwap folder, which must hold the model's recognizer (statistics
    belong to the recognizer they were computed with)."""
    folder = folder_of(source)
    data = read_config(folder)
    if data.get("family") != "infoswap":
        raise ConfigError(f"{folder / CONFIG_NAME}: holds {data['variant']!r}, not an InfoSwap model")
    state = read_weights(folder)
    stats = {key[len("stats."):]: value for key, value in state.items() if key.startswith("stats.")}
    load_state_dict_strict(model.stats, stats, str(folder))
    saved = {key[len("identity_encoder."):]: value for key, value in state.items()
             if key.startswith("identity_encoder.")}
    ours = model.identity_encoder.state_dict()
    if saved.keys() != ours.keys() or any(not torch.equal(saved[key], ours[key]) for key in ours):
        raise ConfigError(f"{folder}: its readout statistics were computed with another recognizer than "
                          f"identity_weights; recompute them with that one: {STATS_COMMAND}")
    check_statistics(model, folder)


def load_start(model: InfoSwap, source: str) -> None:
    """Every network and the statistics of an InfoSwap folder of the same variant and config."""
    folder = folder_of(source)
    data = read_config(folder)
    if data["variant"] != model.spec.name:
        raise ConfigError(f"{folder / CONFIG_NAME}: holds {data['variant']!r}, this run trains {model.spec.name!r}")
    ours = model.config.model_dump(mode="json")
    saved: dict[str, Any] = {**ours, **data["config"]}
    differing = sorted(key for key in ours if saved[key] != ours[key])
    if differing:
        sets = " ".join(f"--set model.{key}={json.dumps(saved[key])}" for key in differing)
        raise ConfigError(f"{folder / CONFIG_NAME}: saved with another model config; train it with {sets}")
    load_state_dict_strict(model, read_weights(folder), str(folder))
    check_statistics(model, folder)


def prepare(model: InfoSwap, init: str | None, identity_weights: str | None, readout_stats: str | None) -> None:
    """Load what the run starts from (after :func:`check_sources`)."""
    if init is not None:
        load_start(model, init)
        return
    assert identity_weights is not None and readout_stats is not None  # check_sources ran
    load_recognizer(model, identity_weights)
    load_readout_stats(model, readout_stats)
