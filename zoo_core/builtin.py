"""The core's own plugin: components every family shares. Specs only; nothing heavy imported."""

from __future__ import annotations

from zoo_core.hookspecs import Register, hookimpl
