"""The ``zoo`` command group: one ``error: ...`` line and exit code 1 for runtime errors, exit
code 2 for usage errors, one ``warning: ...`` line per distinct warning, quiet exit on a closed
pipe. The traceback only with ``--debug`` or ``ZOO_DEBUG=1``."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

from zoo_core.cli.options import warnings_as_lines
from zoo_core.errors import ZooError


def _debug_enabled(ctx: click.Context | None = None) -> bool:
    if os.environ.get("ZOO_DEBUG", "").strip() not in {"", "0"}:
        return True
    return bool(ctx and ctx.find_root().params.get("debug"))


def _silence_stdout() -> None:
    """Send the rest of stdout to the null device: its reader went away (``zoo list | head -1``)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


OPTIONAL_PACKAGES = {
    "PIL": "faces", "cv2": "faces", "av": "faces", "dlib": "faces", "face_recognition_models": "faces",
    "accelerate": "train", "tensorboard": "train", "matplotlib": "eval",
}
"""The top-level modules of the optional dependencies, and the zoo-core extra that installs each."""


def missing_extra(error: Exception) -> str | None:
    """For an optional package that is not installed: which extra brings it, in one line."""
    if not isinstance(error, ModuleNotFoundError) or error.name is None:
        return None
    module = error.name.split(".")[0]
    extra = OPTIONAL_PACKAGES.get(module)
    if extra is None:
        return None
    return f"this command needs {module!r}, which is not installed: pip install 'zoo-core[{extra}]'"


class ZooGroup(click.Group):
    """Turns any runtime error into one ``error:`` line and exit code 1; a closed stdout pipe
    ends the command quietly (exit code 1, nothing on stderr), as Unix tools do."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with warnings_as_lines():
                return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            _silence_stdout()
            ctx.exit(1)
        except Exception as error:
            if _debug_enabled(ctx):
                traceback.print_exc()
            message = str(error) if isinstance(error, ZooError) else missing_extra(error) or f"{type(error).__name__}: {error}"
            click.echo(f"error: {' '.join(message.split())}", err=True)
            ctx.exit(1)


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors (or set ZOO_DEBUG=1).")
@click.version_option(package_name="zoo-core", prog_name="zoo")
def cli(debug: bool) -> None:
    """FaceSwap Zoo: face-swap models from installed plugins."""


