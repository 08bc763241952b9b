"""Pretrained weights from the official files: download, verify, convert once, cache, load.

A model or component whose spec lists ``sources`` is fetched the way timm fetches checkpoints
it does not host: each source file is downloaded (``zoo_core.downloads``), checked against its
published sha256 (or the one recorded at its first download), the registered converter turns
the files into a zoo folder, and that folder is kept in the cache::

    $ZOO_CACHE (default $XDG_CACHE_HOME/zoo, else ~/.cache/zoo)
        downloads/HOST/KEY/FILE          the official files (FILE.part while downloading)
        downloads/recorded.json          sha256 (and Hub commit) of unpinned files, at their first download
        models/NAME/KEY/                 the converted folder (config.json, model.safetensors, README.md)
        models/NAME/KEY/zoo-lock.json    sources, their sha256 and commits, converter, converted files' sha256
        locks/NAME.lock                  one process converts, the others wait

``KEY`` is derived from the sources (URLs, pins, members, revisions), the files given with
``--from`` and accepted with ``--accept-sha256``, and the converter's name and version.
Loading from the cache checks every converted file against the lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from zoo_core import downloads
from zoo_core.convert import convert, select_converter
from zoo_core.errors import OfflineError, WeightsError, ZooError
from zoo_core.fileio import write_json_atomic
from zoo_core.registry import get_component_spec, get_registry
from zoo_core.serialization import sha256_file
from zoo_core.specs import ComponentSpec, ConverterSpec, ModelSpec, SourceFile

CACHE_ENV = "ZOO_CACHE"
LOCK_NAME = "zoo-lock.json"
RECORDED_NAME = "recorded.json"
CACHE_FORMAT = 1


def cache_root() -> Path:
    """``$ZOO_CACHE``, else ``$XDG_CACHE_HOME/zoo``, else ``~/.cache/zoo``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "zoo"


@dataclass(frozen=True)
class CachedWeights:
    """A converted folder in the cache and its lock."""

    name: str
    folder: Path
    lock: dict[str, Any]

    @property
    def label(self) -> str:
        """What produced the weights, for the provenance of every output."""
        parts = []
        for entry in self.lock["sources"]:
            where = entry.get("url") or f"file {entry['file']}"
            member = f"#{entry['member']}" if entry.get("member") else ""
            revision = f"@{entry['revision']}" if entry.get("revision") else ""
            accepted = " (accepted by the user)" if entry.get("accepted") else ""
            parts.append(f"{entry['role']}={where}{revision}{member} sha256:{entry['sha256']}{accepted}")
        converted = self.lock["converted"].get("model.safetensors") or next(iter(self.lock["converted"].values()), "")
        return f"{self.name} converted by {self.lock['converter']} v{self.lock['converter_version']} " \
               f"(sha256:{converted}) from " + "; ".join(parts)


def weights_spec(name: str) -> ModelSpec | ComponentSpec:
    """The model or component spec named ``name``."""
    registry = get_registry()
    if name in registry.models:
        return registry.models[name]
    if name in registry.components:
        return get_component_spec(name)
    return registry.lookup("models", name)  # raises the usual unknown-name error


def cache_key(name: str, sources: tuple[SourceFile, ...], converter: ConverterSpec,
              given: dict[str, str], accept_sha256: frozenset[str]) -> str:
    """The cache folder name of one conversion: everything that decides its result."""
    material = {
        "format": CACHE_FORMAT, "name": name, "converter": converter.name, "version": converter.version,
        "sources": [source.model_dump(include={"role", "url", "revision", "sha256", "member", "member_sha256"})
                    for source in sources if source.role not in given],
        "given": dict(sorted(given.items())),
        "accepted": sorted(accept_sha256),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


def ensure(name: str, files: dict[str, str | Path] | None = None, accept_sha256: frozenset[str] = frozenset(),
           local_files_only: bool = False) -> CachedWeights:
    """The converted, verified cache folder of ``name``: reused when present, else built from
    its sources (``files`` gives the file of any role by hand, e.g. a manual source;
    ``local_files_only`` never downloads)."""
    spec = weights_spec(name)
    given = {role: Path(path).expanduser() for role, path in (files or {}).items()}
    for role, path in given.items():
        if not path.is_file():
            raise ZooError(f"--from {role}={path}: no such file")
    if not spec.sources and not given:
        raise WeightsError(f"{name} lists no official source files; convert them with 'zoo convert {name} ...' "
                           f"(see 'zoo info {name}')")
    roles = {source.role for source in spec.sources} | set(given)
    converter = select_converter(name, roles=roles)
    given_hashes = {role: sha256_file(path) for role, path in given.items()}
    for source in spec.sources:  # a file given by hand is what the converter reads: the member of an archive
        actual, expected = given_hashes.get(source.role), source.member_sha256 if source.member else source.sha256
        if actual is not None and expected and actual != expected and actual not in accept_sha256:
            raise WeightsError(f"--from {source.role}={given[source.role]}: sha256 mismatch: expected {expected}, "
                               f"got {actual}; if this different file is intended, pass --accept-sha256 {actual}")
    key = cache_key(name, spec.sources, converter, given_hashes, accept_sha256)
    folder = cache_root() / "models" / name / key
    cached = _read_cached(name, folder)
    if cached is not None:
        return cached
    missing = [source for source in spec.sources if source.role not in given and not source.fetchable]
    if missing:
        earlier = _earlier_manual_conversion(name, spec.sources, converter) if not given else None
        if earlier is not None:  # converted before from files the user gave: no need to give them again
            return earlier
        raise WeightsError(_manual_message(name, missing))
    from filelock import FileLock

    locks = cache_root() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(str(locks / f"{name}.lock")):
        cached = _read_cached(name, folder)  # another process may have finished it meanwhile
        if cached is not None:
            return cached
        try:
            return _build(name, spec.sources, converter, given, given_hashes, accept_sha256, folder, local_files_only)
        except OfflineError as error:  # one file missing offline: say every file needed
            raise OfflineError(_offline_message(name, spec.sources, given)) from error


def _build(name: str, sources: tuple[SourceFile, ...], converter: ConverterSpec, given: dict[str, Path],
           given_hashes: dict[str, str], accept_sha256: frozenset[str], folder: Path,
           local_only: bool) -> CachedWeights:
    root = cache_root()
    recorded = _recorded(root)
    fetched = []
    for source in sources:
        if source.role in given:
            continue
        known = recorded.get(source.url or "", {})
        if source.is_hub and source.revision is None and known.get("revision"):
            source = source.model_copy(update={"revision": known["revision"]})  # the commit of the first download
        item = downloads.fetch(source, root / "downloads", accept_sha256, known.get("sha256"), local_only)
        if not item.pinned and source.url not in recorded:
            _record(root, source.url or "", {"sha256": item.sha256, "revision": item.revision})
        fetched.append(item)
    paths = {item.role: item.path for item in fetched} | given
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        convert(name, paths, temporary / "out", converter=converter.name)
        out = temporary / "out"
        lock = {
            "format": CACHE_FORMAT,
            "name": name,
            "converter": converter.name,
            "converter_version": converter.version,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "sources": [_source_entry(item, accept_sha256) for item in fetched]
            + [{"role": role, "file": str(path), "sha256": given_hashes[role]} for role, path in given.items()],
            "converted": {path.name: sha256_file(path) for path in sorted(out.iterdir()) if path.is_file()},
        }
        write_json_atomic(out / LOCK_NAME, lock)
        os.replace(out, folder)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return CachedWeights(name, folder, lock)


def _source_entry(item: downloads.FetchedFile, accept_sha256: frozenset[str]) -> dict[str, Any]:
    entry = item.record()
    entry["accepted"] = item.sha256 in accept_sha256 or (item.member_sha256 or "") in accept_sha256
    return entry


def _read_cached(name: str, folder: Path) -> CachedWeights | None:
    if not (folder / LOCK_NAME).is_file():
        return None
    cached = CachedWeights(name, folder, json.loads((folder / LOCK_NAME).read_text()))
    problems = verify(cached)
    if problems:
        raise WeightsError(f"{folder}: the cached conversion of {name} was modified ({problems[0]}); "
                           f"remove it with 'zoo cache remove {name}' and load again")
    return cached


def verify(cached: CachedWeights) -> list[str]:
    """Every converted file against the sha256 in the lock; one line per problem."""
    problems = []
    for filename, expected in cached.lock["converted"].items():
        path = cached.folder / filename
        actual = sha256_file(path) if path.is_file() else None
        if actual is None:
            problems.append(f"{path} is missing")
        elif actual != expected:
            problems.append(f"{path}: sha256 {actual} differs from the lock's {expected}")
    return problems


def entries(name: str | None = None) -> list[CachedWeights]:
    """The cached conversions (of ``name``, or all), without verifying them."""
    models = cache_root() / "models"
    found = []
    for lock in sorted(models.glob(f"{name or '*'}/*/{LOCK_NAME}")):
        found.append(CachedWeights(lock.parent.parent.name, lock.parent, json.loads(lock.read_text())))
    return found


def remove(name: str) -> list[Path]:
    """Delete the cached conversions of ``name``; return the folders removed."""
    removed = [entry.folder for entry in entries(name)]
    for folder in removed:
        shutil.rmtree(folder)
    parent = cache_root() / "models" / name
    if parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
    return removed


def _recorded(root: Path) -> dict[str, dict[str, str | None]]:
    path = root / "downloads" / RECORDED_NAME
    return json.loads(path.read_text()) if path.is_file() else {}


def _record(root: Path, url: str, facts: dict[str, str | None]) -> None:
    """Keep what the first download of an unpinned file found: its sha256, its Hub commit."""
    from filelock import FileLock

    path = root / "downloads" / RECORDED_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):  # models sharing a file may record it at the same time
        write_json_atomic(path, {**_recorded(root), url: facts})


def _earlier_manual_conversion(name: str, sources: tuple[SourceFile, ...],
                               converter: ConverterSpec) -> CachedWeights | None:
    """The newest cached conversion of ``name`` by this converter version whose downloaded
    files are the spec's (files given by hand are whatever the user gave then)."""
    wanted = {(source.url, source.sha256) for source in sources if source.fetchable}
    for entry in sorted(entries(name), key=lambda cached: cached.lock.get("created", ""), reverse=True):
        lock = entry.lock
        downloaded = {(s["url"], s["sha256"] if s.get("pinned") else None) for s in lock["sources"] if s.get("url")}
        if (lock["converter"], lock["converter_version"]) == (converter.name, converter.version) and downloaded == wanted:
            return _read_cached(name, entry.folder)
    return None


def _manual_message(name: str, missing: list[SourceFile]) -> str:
    how = "; ".join(f"{source.role}: {source.instructions}" for source in missing)
    command = " ".join(f"--from {source.role}=FILE" for source in missing)
    return f"{name} needs files no program can download ({how}); then run: zoo load {name} {command}"


def _offline_message(name: str, sources: tuple[SourceFile, ...], given: dict[str, Path]) -> str:
    needed = ", ".join(source.describe() for source in sources if source.role not in given)
    return (f"{name} is not in the cache ({cache_root()}) and downloads are off (ZOO_OFFLINE/HF_HUB_OFFLINE); "
            f"it needs {needed}; run 'zoo download {name}' where the network is reachable (or set ZOO_MIRROR), "
            f"or give the files with 'zoo load {name} " + " ".join(f"--from {s.role}=FILE" for s in sources) + "'")


def load(name: str, device: str = "cpu", files: dict[str, str | Path] | None = None,
         accept_sha256: frozenset[str] = frozenset(), config_overrides: dict[str, Any] | None = None,
         local_files_only: bool = False) -> tuple[Any, CachedWeights]:
    """The model ``name`` with its official weights (converted once, then from the cache)."""
    from zoo_core.hub import load_folder

    cached = ensure(name, files, accept_sha256, local_files_only)
    return load_folder(cached.folder, get_registry().models[name], device, config_overrides), cached
