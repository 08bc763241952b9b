"""``zoo convert``: official checkpoints -> a loadable zoo folder.

A converter is a pure function ``(checkpoints, config) -> state dict`` next to its
architecture (timm's ``checkpoint_filter_fn`` style). ``checkpoints`` maps each role to the
flat ``{key: tensor}`` the core's safe readers produced; the result is loaded strictly into a
freshly built model, which is then saved with its card.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo_core.errors import ZooError
from zoo_core.hub import load_state_dict_strict, save_pretrained
from zoo_core.registry import build_model, get_converters, get_model_spec, merged_config, resolve
from zoo_core.serialization import read_checkpoint, sha256_file
from zoo_core.specs import ConverterSpec


def select_converter(name: str, converter: str | None = None) -> ConverterSpec:
    """The converter for model ``name`` (the only one, or the one named ``converter``)."""
    found = get_converters(name)
    if not found:
        raise ZooError(f"no converter is registered for {name!r}; 'zoo info {name}' shows what it accepts")
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
    """Convert official checkpoint files (``role -> path``) into a zoo folder at ``output``."""
    spec = get_model_spec(name)
    chosen = select_converter(name, converter)
    paths = {role: Path(path) for role, path in files.items()}
    check_roles(chosen, paths)
    checkpoints = {role: read_checkpoint(path) for role, path in paths.items()}
    config = merged_config(spec, config_overrides or {})
    state = resolve(chosen.function, f"converter {chosen.name!r}")(checkpoints, config)
    model = build_model(spec, config)
    origin = ", ".join(f"{role}={path}" for role, path in paths.items())
    load_state_dict_strict(model, state, f"converted from {origin}")
    provenance = {
        "converter": chosen.name,
        "files": {role: {"name": path.name, "sha256": sha256_file(path)} for role, path in paths.items()},
    }
    return save_pretrained(model, output, provenance=provenance)
