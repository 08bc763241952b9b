"""Atomic file writing: a file is either complete or absent, never partial."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from zoo_core.errors import InputError


class WriteError(InputError, OSError):
    """A file that cannot be written; the message names the file asked for, never the
    temporary file written first (an ``OSError`` too, for callers that catch those)."""


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it; done once, at import
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _is_temp_of(name: str | Path, path: Path) -> bool:
    """Whether ``name`` is a temporary file ``atomic_path`` makes for ``path``."""
    name = Path(name)
    return name.parent == path.parent and name.name.startswith(f".{path.name}.") and name.suffix == ".tmp"


def _write_error(path: Path, error: OSError) -> WriteError:
    """``error`` as a one-line ``WriteError`` naming ``path`` (and any other file it names)."""
    named = [str(name) for name in (error.filename, error.filename2) if name is not None]
    others = [name for name in named if Path(name) != path and not _is_temp_of(name, path)]
    reason = error.strerror or " ".join(str(error).split())
    if error.strerror and others:
        reason = f"{reason}: {', '.join(others)}"
    return WriteError(f"{path}: cannot write the file ({reason})")


@contextlib.contextmanager
def naming_output(path: str | Path) -> Iterator[None]:
    """Re-raise any ``OSError`` inside as a ``WriteError`` naming ``path``, not its temporary file."""
    try:
        yield
    except WriteError:
        raise
    except OSError as error:
        raise _write_error(Path(path), error) from error


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched. Failing to
    create the temporary file or to rename it raises ``WriteError`` naming ``path``.
    """
    path = Path(path)
    with naming_output(path):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError as error:  # a file where the folder should be
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path.parent)) from error
        handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(handle)
    temp = Path(temp_name)
    try:
        yield temp
        with naming_output(path):
            os.chmod(temp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the usual permissions
            os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as temp, naming_output(path):
        temp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def same_file(first: Path, second: Path) -> bool:
    """Whether two paths name one file (links and relative paths resolved)."""
    if first.exists() and second.exists():
        return os.path.samefile(first, second)
    return first.resolve() == second.resolve()


def refuse_overwriting(outputs: Iterable[Path], inputs: Mapping[str, Path | None]) -> None:
    """An ``InputError`` if an output is one of the ``inputs`` (named by their option)."""
    for output in outputs:
        for option, given in inputs.items():
            if given is not None and same_file(output, given):
                raise InputError(f"{output}: this output is the {option} file; choose another output "
                                 "or pass --overwrite to replace it")
