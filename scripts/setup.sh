#!/usr/bin/env bash
# Set up FaceSwap Zoo from a source checkout and run the main job:
# a virtual environment in .venv with zoo-core, every plugin under plugins/ and the test
# tools, then `zoo plugins`, `zoo list` and an offline swap of two real faces (scripts/demo.py).
#
#   ZOO_PYTHON      interpreter for the venv (default: python3)
#   ZOO_TORCH_SPEC  torch requirement (default: torch==2.13.0, the CPU wheel); for CUDA use
#                   e.g. ZOO_TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin=${ZOO_PYTHON:-python3}
torch_spec=${ZOO_TORCH_SPEC:-torch==2.13.0}

[ -x .venv/bin/python ] || "$python_bin" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check)

# shellcheck disable=SC2086  # torch_spec may carry pip options on purpose
"${pip[@]}" install --quiet $torch_spec
"${pip[@]}" install --quiet -e ".[all,test]"
# One pip call for all plugins, so plugins that depend on each other (cvae-gan on simswap)
# resolve to the local folders instead of the package index.
plugin_args=()
for plugin in plugins/*/; do
  if [ -f "$plugin/pyproject.toml" ]; then
    plugin_args+=(-e "$plugin")
  fi
done
if [ ${#plugin_args[@]} -gt 0 ]; then
  "${pip[@]}" install --quiet "${plugin_args[@]}"
fi

.venv/bin/zoo plugins
.venv/bin/zoo list
.venv/bin/python scripts/demo.py
