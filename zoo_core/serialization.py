"""Safe readers for weights: safetensors, ``torch.load(weights_only=True)``, and a restricted
unpickler for whole-module pickles (e.g. SimSwap's ``arcface_checkpoint.tar``).

The restricted unpickler never imports or calls pickled classes or functions: apart from the
handful of torch tensor-rebuild functions and plain containers, every global a pickle names is
replaced by an inert stand-in class that only records its state. A pickle that would run
``os.system`` therefore builds an inert object instead, and the tensors inside come back.
"""

from __future__ import annotations

import hashlib
import pickle
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from zoo_core.errors import UnsafePickleError, WeightsError

if TYPE_CHECKING:  # pragma: no cover
    import torch

SAFETENSORS_SUFFIX = ".safetensors"
_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- restricted unpickler ---------------------------------------------------------------

# Callables a tensor checkpoint legitimately needs; each only builds tensors or containers.
_ALLOWED_GLOBALS: dict[tuple[str, str], str] = {
    ("torch._utils", "_rebuild_tensor"): "torch._utils",
    ("torch._utils", "_rebuild_tensor_v2"): "torch._utils",
    ("torch._utils", "_rebuild_parameter"): "torch._utils",
    ("torch._utils", "_rebuild_parameter_with_state"): "torch._utils",
    ("torch", "Size"): "torch",
    ("collections", "OrderedDict"): "collections",
    ("copyreg", "_reconstructor"): "copyreg",
    ("copyreg", "__newobj__"): "copyreg",
    ("builtins", "object"): "builtins",
    ("builtins", "set"): "builtins",
    ("builtins", "frozenset"): "builtins",
    ("builtins", "slice"): "builtins",
    ("builtins", "complex"): "builtins",
}


_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class InertObject:
    """Stand-in for any class or function a pickle names: accepts anything, runs nothing."""

    pickled_name = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> InertObject:
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__["_pickled_args"] = args

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            state, slots = state
            self.__dict__.update(slots)
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.__dict__["_pickled_state"] = state

    def __setitem__(self, key: Any, value: Any) -> None:  # SETITEM(S) on a stand-in dict type
        self.__dict__.setdefault("_pickled_items", {})[key] = value

    def append(self, value: Any) -> None:  # APPEND(S) on a stand-in list type
        self.__dict__.setdefault("_pickled_list", []).append(value)

    def extend(self, values: Any) -> None:
        for value in values:
            self.append(value)

    def __repr__(self) -> str:
        return f"<inert {self.pickled_name}>"


def _inert_class(module: str, name: str) -> type:
    return type(name, (InertObject,), {"pickled_name": f"{module}.{name}", "__module__": "zoo_core.inert"})


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` returns inert stand-ins for all but tensor rebuilders."""

    def find_class(self, module: str, name: str) -> Any:
        module = _PY2_MODULES.get(module, module)  # protocol-2 pickles name Python 2 modules
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        if module == "torch" and _is_torch_dtype(name):
            return super().find_class(module, name)
        if module == "torch" and name.endswith("Storage"):
            return _storage_type(name)
        return _inert_class(module, name)


def _is_torch_dtype(name: str) -> bool:
    import torch

    return isinstance(getattr(torch, name, None), torch.dtype)


def _storage_type(name: str) -> type:
    """What torch's legacy ``.tar`` reader needs of a pickled storage class: its element dtype
    (``torch.FloatStorage._dtype``); the stand-in builds nothing when called."""
    import torch

    storage = getattr(torch, name, None)
    dtype = getattr(storage, "_dtype", None)
    if not isinstance(dtype, torch.dtype):
        return _inert_class("torch", name)
    return type(name, (InertObject,), {"pickled_name": f"torch.{name}", "_dtype": dtype, "__module__": "zoo_core.inert"})


def _restricted_load(file: Any, **kwargs: Any) -> Any:
    """``pickle.load`` through :class:`RestrictedUnpickler`."""
    return RestrictedUnpickler(file, **kwargs).load()


def _restricted_pickle_module() -> ModuleType:
    # torch's legacy-format reader calls ``pickle_module.load`` directly (magic number, then the
    # records); given a plain pickle, that first call unpickles the whole payload, so ``load``
    # must be restricted too, never ``pickle.load``.
    module = ModuleType("zoo_restricted_pickle")
    module.Unpickler = RestrictedUnpickler  # type: ignore[attr-defined]
    module.load = _restricted_load  # type: ignore[attr-defined]
    module.__dict__["UnpicklingError"] = pickle.UnpicklingError
    return module


class _PersistentObject(InertObject):
    """The recorded ``__dict__`` of a ``torch_utils.persistence`` object (NVlabs' StyleGAN2-ADA /
    StyleGAN3 network pickles); its embedded module source is never compiled or run."""

    pickled_name = "torch_utils.persistence._reconstruct_persistent_obj"


def _persistent_object(meta: Any) -> _PersistentObject:
    obj = _PersistentObject()
    state = meta.get("state") if isinstance(meta, dict) else None
    if isinstance(state, dict):
        obj.__setstate__(state)
    return obj


def _storage_from_bytes(data: Any) -> Any:
    """A tensor storage that a raw pickle holds as ``torch.save`` bytes, read weights-only."""
    import io

    import torch

    if not isinstance(data, bytes):
        raise pickle.UnpicklingError("a tensor storage is not stored as bytes")
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


class RawPickleUnpickler(RestrictedUnpickler):
    """The restricted unpickler for raw ``pickle.dump`` files holding tensors: storages are read
    weights-only and persistent networks become their recorded state; all else stays inert."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch_utils.persistence", "_reconstruct_persistent_obj"):
            return _persistent_object
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return _storage_from_bytes
        return super().find_class(module, name)


def read_raw_pickle(path: str | Path) -> Any:
    """Unpickle a raw pickle (not written by ``torch.save``) with :class:`RawPickleUnpickler`."""
    with open(path, "rb") as handle:
        return RawPickleUnpickler(handle).load()


def restricted_torch_load(path: str | Path) -> Any:
    """``torch.load`` of a whole-module pickle without importing or running its classes."""
    import torch

    with warnings.catch_warnings():  # the legacy format warns that stand-in classes have no source
        warnings.filterwarnings("ignore", message="Couldn't retrieve source code", category=UserWarning)
        return torch.load(path, map_location="cpu", pickle_module=_restricted_pickle_module(), weights_only=False)


# --- flattening an object graph to a state dict -------------------------------------------


def iter_tensors(obj: Any, prefix: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """Yield ``(dotted key, tensor)`` for every tensor in nested dicts, lists and (inert)
    ``nn.Module`` states; module parameters/buffers/children follow ``state_dict`` naming."""
    import torch

    seen: set[int] = set()

    def walk(node: Any, key: str) -> Iterator[tuple[str, torch.Tensor]]:
        if isinstance(node, torch.Tensor):
            yield key, node
            return
        if id(node) in seen or node is None or isinstance(node, (str, bytes, int, float, bool)):
            return
        seen.add(id(node))
        join = (lambda k: f"{key}.{k}") if key else str
        if isinstance(node, Mapping):
            for name, value in node.items():
                yield from walk(value, join(name))
        elif isinstance(node, (list, tuple)):
            for index, value in enumerate(node):
                yield from walk(value, join(index))
        elif isinstance(node, InertObject) or hasattr(node, "__dict__"):
            state = vars(node)
            if "_parameters" in state or "_modules" in state:  # an nn.Module's pickled __dict__
                skip = state.get("_non_persistent_buffers_set")
                skip = skip if isinstance(skip, (set, frozenset)) else set()
                for group in ("_parameters", "_buffers"):
                    for name, value in (state.get(group) or {}).items():
                        if name not in skip:
                            yield from walk(value, join(name))
                for name, child in (state.get("_modules") or {}).items():
                    yield from walk(child, join(name))
            else:
                for name, value in state.items():
                    if not name.startswith("_pickled"):
                        yield from walk(value, join(name))

    yield from walk(obj, prefix)


def to_state_dict(obj: Any) -> dict[str, torch.Tensor]:
    """Flatten whatever a checkpoint holds into ``{dotted key: tensor}``."""
    return OrderedDict(iter_tensors(obj))


# --- reading checkpoints -------------------------------------------------------------------


def check_finite(state: Mapping[str, torch.Tensor], origin: str | Path) -> None:
    """Refuse weights holding NaN or Inf (they load silently and paint black faces)."""
    import torch

    for key, tensor in state.items():
        if (tensor.is_floating_point() or tensor.is_complex()) and not bool(torch.isfinite(tensor).all()):
            raise WeightsError(f"{origin}: non-finite values (NaN or Inf) in {key!r}; the weights are corrupt")


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a safetensors file, turning header or size problems and non-finite values into
    ``WeightsError``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    _check_file(path)
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise WeightsError(f"{path}: truncated or corrupt safetensors file ({_first_line(error)})") from error
    check_finite(state, path)
    return state


def read_checkpoint(path: str | Path, allow_module_pickle: bool = True) -> dict[str, torch.Tensor]:
    """Read any official checkpoint into a flat state dict, never executing pickled code.

    safetensors files are read directly; pickles first with ``weights_only=True``; whole-module
    pickles (rejected by ``weights_only``) with the restricted unpickler when allowed, and raw
    ``pickle.dump`` files (NVlabs' StyleGAN2-ADA snapshots) with :class:`RawPickleUnpickler`.
    """
    import torch

    path = Path(path)
    if path.suffix == SAFETENSORS_SUFFIX:
        return read_safetensors(path)
    _check_file(path)
    try:
        if is_legacy_tar(path):  # torch's weights-only reader refuses the pre-1.0 tar layout
            loaded = restricted_torch_load(path)
        else:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if not allow_module_pickle:
            raise UnsafePickleError(
                f"{path}: not a plain state dict ({_first_line(error)}); it needs the restricted unpickler"
            ) from error
        try:
            loaded = restricted_torch_load(path)
        except Exception as inner:
            try:  # a raw pickle (NVlabs network pickles), not a torch.save file
                loaded = read_raw_pickle(path)
            except Exception:
                raise WeightsError(f"{path}: cannot read checkpoint: {_first_line(inner)}") from inner
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise WeightsError(f"{path}: truncated or corrupt checkpoint ({_first_line(error)})") from error
    state = to_state_dict(loaded)
    if not state:
        raise WeightsError(f"{path}: the checkpoint holds no tensors")
    return state


def is_legacy_tar(path: Path) -> bool:
    """Whether ``path`` is a checkpoint in torch's pre-1.0 ``.tar`` layout (not zip, not a plain pickle)."""
    import tarfile
    import zipfile

    try:
        return not zipfile.is_zipfile(path) and tarfile.is_tarfile(path)
    except OSError:
        return False


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise WeightsError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise WeightsError(f"{path}: empty file")


def _first_line(error: BaseException) -> str:
    """The first line of an error's text; torch's advice to load with ``weights_only=False``
    (which runs the file's code) is never passed on."""
    text = str(error).strip().splitlines()
    line = text[0].split(" In PyTorch 2.6")[0] if text else type(error).__name__
    return "unreadable pickle" if "weights_only" in line else line
