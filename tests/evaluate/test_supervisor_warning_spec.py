"""The 3DMM supervision MFIM declares in its spec reaches the evaluation warning."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from zoo_core import registry
from zoo_core.errors import ZooWarning
from zoo_core.evaluate.recognizers import check_supervisors, training_networks


def test_mfim_declares_deca_and_the_deca_metrics_warn():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "mfim"))
    import zoo_plugin_mfim

    registry.add_plugin(zoo_plugin_mfim, name="mfim", distribution="zoo-plugin-mfim")
    spec = registry.get_model_spec("mfim-1024")
    assert "deca-flame-encoder" in training_networks(spec)

    class Metric:
        estimator = "deca-flame-encoder"

    class Other:
        estimator = "hopenet"

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_supervisors({"pose-mfim": Metric(), "pose-styleface": Other()}, spec)
    (warning,) = [w for w in caught if issubclass(w.category, ZooWarning)]
    assert "pose-mfim" in str(warning.message) and "pose-styleface" not in str(warning.message)
