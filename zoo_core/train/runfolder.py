"""The run folder of ``zoo train``: one run at a time (a lock file), and a loss log that
matches the step the run continues from."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

from zoo_core.errors import ZooError
from zoo_core.fileio import write_text_atomic

LOCK = ".lock"


@contextlib.contextmanager
def run_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder/.lock`` while the block runs; another process
    holding it (a second run into the same folder) is a one-line ``ZooError``."""
    import fcntl

    path = folder / LOCK
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a")  # closed by the with block below
    except OSError as error:
        raise ZooError(f"{path}: cannot create the run's lock file ({error.strerror or error})") from error
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise ZooError(f"{folder}: another zoo train run is writing to this output folder (it holds {LOCK}); "
                           "wait for it to end or choose another --output") from error
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def truncate_log(path: Path, step: int) -> None:
    """Keep only the rows of a JSON-lines log whose ``step`` is at most ``step`` (a resumed run
    logs the later steps again; a line cut short by a crash goes too)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row_step = json.loads(line)["step"]
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
        if isinstance(row_step, int) and row_step <= step:
            kept.append(line + "\n")
    write_text_atomic(path, "".join(kept))
