"""``zoo convert``: official checkpoints -> a loadable zoo folder.

A converter is a pure function ``(checkpoints, config) -> state dict`` next to its
architecture (timm's ``checkpoint_filter_fn`` style). ``checkpoints`` maps each role to the
flat ``{key: tensor}`` the core's safe readers produced; the result is loaded strictly into a
freshly built model, which is then saved with its card.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core.errors import WeightsError, ZooError, few_keys
from zoo_core.hub import load_state_dict_strict, save_pretrained
from zoo_core.registry import (
    build_model,
    create_component,
    get_component_spec,
    get_converters,
    get_model_spec,
    get_registry,
    merged_config,
    resolve,
)
from zoo_core.serialization import check_finite, read_checkpoint, sha256_file
from zoo_core.specs import ConverterSpec

if TYPE_CHECKING:  # pragma: no cover
    import torch

OPTIONAL_SUFFIX = ".num_batches_tracked"
"""State-dict entries that checkpoints older than PyTorch 0.4.1 lack; filled with 0."""


def strip_wrapper_prefix(state: Mapping[str, Any], prefix: str = "module.") -> dict[str, Any]:
    """Drop a prefix that every key carries (``module.`` of a saved DataParallel)."""
    if state and all(key.startswith(prefix) for key in state):
        return {key[len(prefix):]: value for key, value in state.items()}
    return dict(state)


def rename_checked(
    role: str,
    state: Mapping[str, torch.Tensor],
    mapping: Mapping[str, str],
    expected: Mapping[str, torch.Tensor],
    hint: str,
    *,
    note: str | None = None,
    shape_detail: Callable[[str, torch.Tensor], str] | None = None,
) -> dict[str, torch.Tensor]:
    """Rename an official state dict with ``mapping`` (official key -> ours), checking every
    name and shape against ``expected`` (our model's state dict, e.g. built on the meta device).

    Errors name the role, ``hint`` (what the file should be) and a few offending keys; ``note``
    is listed first for key mismatches, ``shape_detail(official_key, tensor)`` is appended to
    shape mismatches. Missing ``num_batches_tracked`` buffers are filled with 0.
    """
    import torch

    unexpected = [key for key in state if key not in mapping]
    missing = [key for key in mapping if key not in state and not key.endswith(OPTIONAL_SUFFIX)]
    if unexpected or missing:
        parts = [note] if note else []
        if missing:
            parts.append(f"missing official keys: {few_keys(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {few_keys(unexpected)}")
        raise WeightsError(f"{role} checkpoint does not match {hint}: {'; '.join(parts)}")
    result = {}
    for official, ours in mapping.items():
        if official not in state:  # a num_batches_tracked buffer of an old checkpoint
            result[ours] = torch.zeros((), dtype=torch.long)
            continue
        tensor = state[official]
        if tuple(tensor.shape) != tuple(expected[ours].shape):
            detail = shape_detail(official, tensor) if shape_detail else ""
            raise WeightsError(
                f"{role} checkpoint does not match {hint}: {official!r} has shape "
                f"{tuple(tensor.shape)}, expected {tuple(expected[ours].shape)}{detail}"
            )
        result[ours] = tensor
    return result


def select_converter(name: str, converter: str | None = None, roles: set[str] | None = None) -> ConverterSpec:
    """The converter for ``name``: the one named ``converter``, the only one, or the only one
    taking exactly the given ``roles``."""
    found = get_converters(name)
    if not found:
        raise ZooError(f"no converter is registered for {name!r}; 'zoo info {name}' shows what it accepts")
    if converter is None and roles and len(found) > 1:
        by_roles = [spec for spec in found if set(spec.roles) == roles]
        if len(by_roles) == 1:
            return by_roles[0]
    if converter is None:
        if len(found) > 1:
            raise ZooError(f"{name!r} has several converters ({', '.join(c.name for c in found)}): pick one with --converter")
        return found[0]
    for spec in found:
        if spec.name == converter:
            return spec
    raise ZooError(f"{name!r} has no converter {converter!r}; available: {', '.join(c.name for c in found)}")


def check_roles(converter: ConverterSpec, files: dict[str, Path]) -> None:
    unknown = sorted(set(files) - set(converter.roles))
    if unknown:
        raise ZooError(
            f"converter {converter.name!r} takes no role(s) {unknown}; it takes: "
            + ", ".join(f"{role}=FILE" for role in converter.roles)
        )
    missing = [role for role, spec in converter.roles.items() if spec.required and role not in files]
    if missing:
        raise ZooError(
            f"converter {converter.name!r} needs " + ", ".join(
                f"{role}=FILE ({converter.roles[role].example or converter.roles[role].description})" for role in missing
            )
        )


def convert(
    name: str,
    files: dict[str, str | Path],
    output: str | Path,
    converter: str | None = None,
    config_overrides: dict[str, Any] | None = None,
) -> Path:
    """Convert official checkpoint files (``role -> path``) into a zoo folder at ``output``:
    a model folder, or a component folder (``zoo_core.component_weights``) when ``name`` is a
    registered component with a converter."""
    registry = get_registry()
    is_component = name not in registry.models and name in registry.components
    spec = get_component_spec(name) if is_component else get_model_spec(name)
    chosen = select_converter(name, converter, set(files))
    paths = {role: Path(path) for role, path in files.items()}
    check_roles(chosen, paths)
    checkpoints = {role: read_checkpoint(path) for role, path in paths.items()}
    config = merged_config(spec, config_overrides or {})
    state = resolve(chosen.function, f"converter {chosen.name!r}")(checkpoints, config)
    model = create_component(name, **config) if is_component else build_model(spec, config)
    origin = ", ".join(f"{role}={path}" for role, path in paths.items())
    check_finite(state, f"converted from {origin}")  # only what the model takes: unused entries may hold anything
    load_state_dict_strict(model, state, f"converted from {origin}")
    provenance = {
        "converter": chosen.name,
        "files": {role: {"name": path.name, "sha256": sha256_file(path)} for role, path in paths.items()},
    }
    if is_component:
        from zoo_core.component_weights import save_component

        return save_component(model, name, output, config=config, provenance=provenance)
    return save_pretrained(model, output, provenance=provenance)
