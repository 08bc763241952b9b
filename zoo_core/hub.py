"""Save, load and push models: safetensors weights, ``config.json`` and a model card, in a
local folder or a Hugging Face Hub repository (pinned revisions, offline cache, sha256).

Folder layout (see docs/hub.md)::

    config.json                   {"format_version", "zoo_core_version", "family", "variant", "config"}
    model.safetensors             the whole model's state dict (networks under their prefixes,
                                  e.g. "generator.", "identity_encoder.", "stats.")
    model-0000k-of-0000n.safetensors + model.safetensors.index.json   when above max_shard_size
    README.md                     model card

Loading is always strict: every key must be present with the right shape.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core.errors import (
    ConfigError,
    OfflineError,
    WeightsError,
    ZooError,
    ZooWarning,
    describe_error,
)
from zoo_core.fileio import atomic_path, write_json_atomic, write_text_atomic
from zoo_core.registry import build_model, get_model_spec, merged_config, resolve
from zoo_core.serialization import read_safetensors, sha256_file
from zoo_core.specs import ModelSpec

if TYPE_CHECKING:  # pragma: no cover
    import torch

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
CARD_NAME = "README.md"
FORMAT_VERSION = 1
"""Bumped when the folder layout changes incompatibly; a reader refuses newer formats."""

HF_PREFIX = "hf-hub:"
LOCAL_PREFIX = "local-dir:"


# --- saving --------------------------------------------------------------------------------


def config_of(model: Any) -> dict[str, Any]:
    """The model's full config as JSON-able data (pydantic models are dumped)."""
    config = getattr(model, "config", None)
    if hasattr(config, "model_dump"):
        return config.model_dump(mode="json")
    if isinstance(config, dict):
        return json.loads(json.dumps(config))
    raise ZooError(f"{type(model).__name__} has no 'config' (dict or pydantic model) to save")


def save_pretrained(
    model: Any,
    save_directory: str | Path,
    *,
    max_shard_size: int | str = "2GB",
    metrics: dict[str, float] | None = None,
    provenance: dict[str, Any] | None = None,
) -> Path:
    """Write ``config.json``, safetensors weights (sharded above ``max_shard_size``) and the card.

    Every file is written atomically; shards of an earlier save that are no longer part of
    the model are removed.
    """
    from zoo_core.cards import build_card

    spec: ModelSpec = model.spec
    folder = Path(save_directory)
    # weights in the model's own layout (e.g. a diffusers pipeline), read back by spec.loader
    state = None if spec.loader is not None else model.state_dict()
    if state is None:
        folder.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(folder)
    header = {"family": spec.family, "variant": spec.name, "config": config_of(model)}
    write_folder(folder, state, header, provenance, max_shard_size)
    write_text_atomic(folder / CARD_NAME, str(build_card(spec, metrics)))
    return folder


def write_folder(folder: Path, state_dict: dict[str, torch.Tensor] | None, header: dict[str, Any],
                 provenance: dict[str, Any] | None = None, max_shard_size: int | str = "2GB") -> Path:
    """The one writer of model and component folders: safetensors weights (sharded above
    ``max_shard_size``; stale shards of an earlier save removed) and ``config.json`` holding
    the format version, ``header`` (what the folder holds and its config) and the provenance.
    ``state_dict=None``: the caller wrote the weights in its own layout."""
    from zoo_core import __version__

    folder.mkdir(parents=True, exist_ok=True)
    if state_dict is not None:
        written = _save_weights(state_dict, folder, max_shard_size)
        for stale in folder.glob("model*.safetensors*"):
            if stale.name not in written:
                stale.unlink()
    write_json_atomic(folder / CONFIG_NAME, {
        "format_version": FORMAT_VERSION, "zoo_core_version": __version__, **header,
        **({"provenance": provenance} if provenance else {}),
    })
    return folder


def _save_weights(state_dict: dict[str, torch.Tensor], folder: Path, max_shard_size: int | str) -> set[str]:
    from huggingface_hub import split_torch_state_dict_into_shards
    from safetensors.torch import save_file

    tensors = _unshare(state_dict)
    split = split_torch_state_dict_into_shards(tensors, max_shard_size=max_shard_size)
    for filename, keys in split.filename_to_tensors.items():
        with atomic_path(folder / filename) as temp:
            save_file({key: tensors[key] for key in keys}, str(temp), metadata={"format": "pt"})
    written = set(split.filename_to_tensors)
    if split.is_sharded:
        write_json_atomic(
            folder / WEIGHTS_INDEX_NAME, {"metadata": split.metadata, "weight_map": split.tensor_to_filename}
        )
        written.add(WEIGHTS_INDEX_NAME)
    return written


def _unshare(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Contiguous CPU tensors; tied weights (shared storage) are copied, as safetensors needs."""
    seen: set[tuple[int, int]] = set()
    result = {}
    for key, tensor in state_dict.items():
        tensor = tensor.detach().to("cpu").contiguous()
        storage = (tensor.untyped_storage().data_ptr(), tensor.untyped_storage().nbytes())
        result[key] = tensor.clone() if storage in seen and tensor.numel() else tensor
        seen.add(storage)
    return result


# --- resolving a name to a folder ----------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where a model comes from: a registry name, a Hub repository or a local folder."""

    kind: str  # "registry", "hf-hub" or "local-dir"
    location: str  # model name, repo id or folder path
    revision: str | None = None
    spec: ModelSpec | None = None

    def describe(self) -> str:
        at = f"@{self.revision}" if self.revision else ""
        return f"{self.kind}:{self.location}{at}" if self.kind != "registry" else f"{self.location}{at}"


def parse_source(name_or_path: str, revision: str | None = None) -> Source:
    """Parse ``NAME``, ``hf-hub:ORG/REPO[@REV]`` or ``local-dir:PATH``.

    A plain name containing "/" or ":" is refused rather than guessed, as in timm.
    """
    if name_or_path.startswith(HF_PREFIX):
        repo, _, at = name_or_path[len(HF_PREFIX):].partition("@")
        if not repo or repo.count("/") != 1:
            raise ZooError(f"{name_or_path!r}: expected 'hf-hub:ORG/REPO[@REVISION]'")
        return Source("hf-hub", repo, revision or at or None)
    if name_or_path.startswith(LOCAL_PREFIX):
        return Source("local-dir", name_or_path[len(LOCAL_PREFIX):], None)
    if "/" in name_or_path or ":" in name_or_path:
        hint = LOCAL_PREFIX if Path(name_or_path).exists() else f"{HF_PREFIX} or {LOCAL_PREFIX}"
        raise ZooError(f"{name_or_path!r} is not a model name; prefix it with {hint} to load a repository or folder")
    spec = get_model_spec(name_or_path)
    return Source("registry", spec.name, revision, spec)


def fetch(source: Source, local_files_only: bool | None = None, cache_dir: str | Path | None = None) -> Path:
    """Return a local folder holding the source's files, downloading what is not cached."""
    if source.kind == "local-dir":
        folder = Path(source.location).expanduser()
        if not folder.is_dir():
            raise ZooError(f"{folder}: no such folder")
        return folder
    if source.kind == "hf-hub":
        return _snapshot(source.location, source.revision, None, local_files_only, cache_dir)
    spec = source.spec
    assert spec is not None
    if spec.weights is None:
        raise WeightsError(
            f"{spec.name} has no published weights; convert the official ones with "
            f"'zoo convert {spec.name} ...' (see 'zoo info {spec.name}') or train it with 'zoo train'"
        )
    patterns = [f.filename for f in spec.weights.files] or None
    folder = _snapshot(spec.weights.repo_id, source.revision or spec.weights.revision, patterns, local_files_only, cache_dir)
    if resolved_commit(folder) == spec.weights.revision:  # however --revision named it
        verify_files(folder, spec)
    return folder


def resolved_commit(folder: Path) -> str | None:
    """The commit a Hub snapshot folder holds (its name in the cache), or None for other folders."""
    return folder.name if folder.parent.name == "snapshots" else None


def weights_label(name_or_path: str, folder: Path) -> str:
    """What produced loaded weights, for provenance: the source, the commit it resolved to (not
    the revision as typed) and the content digest."""
    files = weight_files(folder)
    digest = sha256_file(folder / WEIGHTS_INDEX_NAME if len(files) > 1 else files[0])
    commit = resolved_commit(folder)
    return f"{name_or_path}{f'@{commit}' if commit else ''} sha256:{digest}"


def _snapshot(
    repo_id: str,
    revision: str | None,
    allow_patterns: list[str] | None,
    local_files_only: bool | None,
    cache_dir: str | Path | None,
) -> Path:
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    offline = constants.HF_HUB_OFFLINE if local_files_only is None else local_files_only
    where = f"{repo_id}@{revision or 'main'}"
    try:
        path = snapshot_download(
            repo_id,
            revision=revision,
            allow_patterns=allow_patterns,
            cache_dir=cache_dir,
            local_files_only=offline,
            library_name="zoo",
        )
    except LocalEntryNotFoundError as error:
        if not offline:  # downloads were on: the Hub could not be reached
            raise WeightsError(
                f"{where}: cannot reach the Hugging Face Hub at {constants.ENDPOINT} "
                f"({_root_cause(error)}) and it is not in the local cache; check the network, "
                f"HF_ENDPOINT or the proxy settings, or point HF_HOME at a cache that has it"
            ) from error
        raise OfflineError(
            f"{where} is not in the Hugging Face cache and downloads are off (offline mode); "
            f"download it once with network access (zoo load ... without --local-files-only, "
            f"or 'hf download {repo_id} --revision {revision or 'main'}'), or point HF_HOME at a cache that has it"
        ) from error
    except GatedRepoError as error:
        raise WeightsError(f"{where}: gated repository; accept its terms on the Hub and log in (hf auth login)") from error
    except RevisionNotFoundError as error:
        raise WeightsError(f"{where}: no such revision") from error
    except RepositoryNotFoundError as error:
        raise WeightsError(f"{where}: no such repository (or it is private: log in with 'hf auth login')") from error
    except (HfHubHTTPError, OSError) as error:
        raise WeightsError(f"{where}: download failed: {error}") from error
    return Path(path)


def _root_cause(error: BaseException) -> str:
    """The innermost cause of a chained error (e.g. the connection error under a Hub error), one line."""
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return describe_error(error)


def verify_files(folder: Path, spec: ModelSpec) -> dict[str, str]:
    """Check every pinned file of the spec against its sha256; return ``{file: sha256}``."""
    assert spec.weights is not None
    digests = {}
    for pinned in spec.weights.files:
        path = folder / pinned.filename
        if not path.is_file():
            raise WeightsError(f"{path}: missing from {spec.weights.repo_id}@{spec.weights.revision}")
        digest = sha256_file(path)
        if pinned.sha256 and digest != pinned.sha256:
            raise WeightsError(
                f"{path}: sha256 mismatch (expected {pinned.sha256}, got {digest}); the download is "
                f"corrupt or was altered: delete it from the cache and load again"
            )
        digests[pinned.filename] = digest
    return digests


# --- loading -------------------------------------------------------------------------------


def read_config(folder: Path, holds: str = "variant", written_by: str = "save_pretrained") -> dict[str, Any]:
    """Read and check ``config.json`` of a model folder (``holds="variant"``) or a component
    folder (``holds="component"``)."""
    from zoo_core import __version__

    path = folder / CONFIG_NAME
    if not path.is_file():
        raise ConfigError(f"{path}: missing; is {folder} a folder written by {written_by}?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(data, dict) or holds not in data or "config" not in data:
        kind = "model" if holds == "variant" else holds
        raise ConfigError(f"{path}: not a zoo {kind} config (needs {holds!r} and 'config')")
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ConfigError(
            f"{path}: written by zoo-core {data.get('zoo_core_version', '?')} in format {version!r}; "
            f"zoo-core {__version__} reads formats up to {FORMAT_VERSION}: upgrade with 'pip install -U zoo-core'"
        )
    return data


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files of a saved model (one file, or the shards its index lists)."""
    index = folder / WEIGHTS_INDEX_NAME
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise WeightsError(f"{index}: corrupt shard index ({error})") from error
        if not isinstance(weight_map, dict):
            raise WeightsError(f"{index}: corrupt shard index ('weight_map' is not a mapping)")
        return [_shard_in(folder, index, name) for name in sorted(set(map(str, weight_map.values())))]
    single = folder / WEIGHTS_NAME
    if not single.is_file():
        nested = sorted(folder.glob("*/*.safetensors"))  # a model's own layout, e.g. diffusers' unet/
        if nested:
            return nested
        raise WeightsError(f"{single}: missing (no {WEIGHTS_NAME} or {WEIGHTS_INDEX_NAME} in {folder})")
    return [single]


def _shard_in(folder: Path, index: Path, name: str) -> Path:
    """A shard named by the index, refused unless it is a plain file name inside ``folder``."""
    if Path(name).name != name or name in {"", ".", ".."} or "\\" in name:
        raise WeightsError(f"{index}: shard {name!r} is outside the model folder; refusing to read it")
    return folder / name


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    for path in weight_files(folder):
        state.update(read_safetensors(path))
    return state


def load_state_dict_strict(module: Any, state: dict[str, torch.Tensor], origin: str) -> None:
    """``load_state_dict(strict=True)`` with one-line errors naming the file and a few keys."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys ({_few(missing)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys ({_few(unexpected)})")
        raise WeightsError(f"{origin}: weights do not match the model: {'; '.join(parts)}")
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise WeightsError(
                f"{origin}: shape mismatch for {key!r}: file has {tuple(state[key].shape)}, "
                f"model expects {tuple(tensor.shape)}"
            )
    check_dtypes(expected, state, origin)
    # assign=True hands the loaded tensors to the module instead of copying them (half the
    # memory, no page-faulting of freshly allocated weights); dtypes follow the module.
    module.load_state_dict(
        {key: value.to(dtype=expected[key].dtype, device=expected[key].device) for key, value in state.items()},
        strict=True,
        assign=True,
    )


def check_dtypes(expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor], origin: str) -> None:
    """Refuse integer or boolean tensors where the model holds floats; say once when floats of
    another precision are cast to the model's."""
    import warnings

    wrong = [k for k, t in expected.items() if t.is_floating_point() and not state[k].is_floating_point()]
    if wrong:
        raise WeightsError(f"{origin}: {wrong[0]!r} is stored as {state[wrong[0]].dtype}, the model expects "
                           f"{expected[wrong[0]].dtype} ({len(wrong)} such tensors); the weights are not this model's")
    cast = sorted({f"{state[k].dtype} -> {t.dtype}".replace("torch.", "") for k, t in expected.items()
                   if t.is_floating_point() and state[k].dtype != t.dtype})
    if cast:
        warnings.warn(f"{origin}: weights cast to the model's precision ({', '.join(cast)})", ZooWarning, stacklevel=3)


def _few(keys: list[str], n: int = 4) -> str:
    return ", ".join(keys[:n]) + (", ..." if len(keys) > n else "")


def load_own_layout(spec: ModelSpec, folder: Path, config: dict[str, Any]) -> Any:
    """The one dispatch to ``spec.loader`` (``"module:function"(spec, folder, config)``): weights
    in the model's own layout, e.g. a diffusers pipeline."""
    return resolve(spec.loader, f"model {spec.name!r}")(spec, folder, config)


def load_weights(module: Any, folder: Path) -> Any:
    """Read the folder's safetensors weights strictly into ``module`` (built without random init)."""
    load_state_dict_strict(module, read_weights(folder), str(folder))
    return module


def load_folder(
    folder: Path,
    spec: ModelSpec | None = None,
    device: str = "cpu",
    config_overrides: dict[str, Any] | None = None,
) -> Any:
    """Build the model a saved folder describes and load its weights strictly."""
    data = read_config(folder)
    if spec is None:
        spec = get_model_spec(data["variant"])
    elif data["variant"] != spec.name:
        raise ConfigError(f"{folder / CONFIG_NAME}: holds {data['variant']!r}, expected {spec.name!r}")
    try:
        config = merged_config(spec, {**data["config"], **(config_overrides or {})})
    except ZooError as error:
        raise ConfigError(f"{folder / CONFIG_NAME}: {error}") from error
    if spec.loader is not None:
        return ready_for_inference(load_own_layout(spec, folder, config), device)
    try:
        with skip_weight_init():  # every parameter is overwritten by the strict load below
            model = build_model(spec, config)
    except ConfigError as error:
        raise ConfigError(f"{folder / CONFIG_NAME}: {error}") from error
    return ready_for_inference(load_weights(model, folder), device)


_INIT_FUNCTIONS = (
    "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_",
)


@contextlib.contextmanager
def skip_weight_init() -> Iterator[None]:
    """Make ``torch.nn.init`` a no-op while a model whose weights are loaded next is built.

    Random initialisation dominates load time for small and medium models; strict loading then
    guarantees that every parameter and persistent buffer comes from the file. Builders must not
    draw non-persistent state (constants) from ``torch.nn.init``.
    """
    from torch.nn import init

    originals = {name: getattr(init, name) for name in _INIT_FUNCTIONS if hasattr(init, name)}
    try:
        for name in originals:
            setattr(init, name, _keep)
        yield
    finally:
        for name, function in originals.items():
            setattr(init, name, function)


def _keep(tensor: Any, *args: Any, **kwargs: Any) -> Any:
    return tensor


def ready_for_inference(model: Any, device: str) -> Any:
    """The loaded model on ``device``, in eval mode."""
    if hasattr(model, "to"):
        model = model.to(device)
    if hasattr(model, "eval"):
        model.eval()
    return model


def load_with_folder(
    name_or_path: str,
    revision: str | None = None,
    device: str = "cpu",
    local_files_only: bool | None = None,
    cache_dir: str | Path | None = None,
    config_overrides: dict[str, Any] | None = None,
) -> tuple[Any, Path]:
    """``load``, also returning the local folder the weights were read from."""
    source = parse_source(name_or_path, revision)
    folder = fetch(source, local_files_only, cache_dir)
    if source.spec is not None and source.spec.loader is not None:  # a repository in the model's own layout
        config = merged_config(source.spec, config_overrides or {})
        return ready_for_inference(load_own_layout(source.spec, folder, config), device), folder
    return load_folder(folder, source.spec, device, config_overrides), folder


def load(
    name_or_path: str,
    revision: str | None = None,
    device: str = "cpu",
    local_files_only: bool | None = None,
    cache_dir: str | Path | None = None,
    config_overrides: dict[str, Any] | None = None,
) -> Any:
    """Load a pretrained model by registry name, ``hf-hub:ORG/REPO[@REV]`` or ``local-dir:PATH``.

    Registry names download the spec's pinned revision and verify its sha256 digests;
    ``local_files_only`` (default: ``HF_HUB_OFFLINE``) never touches the network.
    """
    model, _ = load_with_folder(name_or_path, revision, device, local_files_only, cache_dir, config_overrides)
    return model


# --- pushing -------------------------------------------------------------------------------


def push_to_hub(
    dir_or_model: str | Path | Any,
    repo_id: str,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    token: str | None = None,
    api: Any = None,
) -> str:
    """Upload a saved folder (or a model, saved first) to ``repo_id``; return the commit URL.

    Creates the repository (and the ``revision`` branch) when missing. ``api`` defaults to
    ``huggingface_hub.HfApi(token=token)``.
    """
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="zoo-push-") as scratch:
        if isinstance(dir_or_model, (str, os.PathLike)):
            folder = Path(dir_or_model)
            data = read_config(folder)
            weight_files(folder)
            if not (folder / CARD_NAME).is_file():
                from zoo_core.cards import build_card

                write_text_atomic(folder / CARD_NAME, str(build_card(get_model_spec(data["variant"]))))
        else:
            folder = save_pretrained(dir_or_model, Path(scratch) / "model")
            data = read_config(folder)
        try:
            api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            if revision:
                api.create_branch(repo_id, branch=revision, exist_ok=True, repo_type="model")
            info = api.upload_folder(
                repo_id=repo_id,
                folder_path=str(folder),
                revision=revision,
                repo_type="model",
                commit_message=commit_message or f"Upload {data['variant']} with zoo-core",
            )
        except ZooError:
            raise
        except Exception as error:  # the HTTP client's connection, TLS and status errors
            from huggingface_hub import constants

            raise WeightsError(f"pushing {folder} to {repo_id} at {constants.ENDPOINT} failed: "
                               f"{_root_cause(error)}") from error
    return str(getattr(info, "commit_url", info))
