"""``zoo evaluate``: the papers' face-swap metrics on real photo pairs.

Modules: ``specs`` (the registered ``MetricSpec``s, torch-free), ``pairs`` (pair CSVs and
identity folders), ``recognizers`` (the evaluation recognizer, never the model's identity
encoder), ``metrics`` (definitions and ``Metric`` implementations), ``engine`` (models x
pairs -> records -> metrics), ``report`` (JSON, markdown, plots), ``command`` (the click
command). Only ``specs`` is imported at start-up; the rest loads on first attribute access.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Evaluator": "zoo_core.evaluate.engine",
    "EvaluationReport": "zoo_core.evaluate.engine",
    "evaluate": "zoo_core.evaluate.engine",
    "load_model": "zoo_core.evaluate.engine",
    "PairSet": "zoo_core.evaluate.pairs",
    "read_pairs_csv": "zoo_core.evaluate.pairs",
    "sample_pairs": "zoo_core.evaluate.pairs",
    "write_report": "zoo_core.evaluate.report",
    "METRIC_SPECS": "zoo_core.evaluate.specs",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'zoo_core.evaluate' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
