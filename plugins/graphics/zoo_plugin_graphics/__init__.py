"""Hook implementations of zoo-plugin-graphics: the graphics-512 variant as plain data.

``zoo list`` imports this module: it must not import torch, numpy or ``.model``.
"""

from __future__ import annotations

from zoo_core.hookspecs import Register, hookimpl
from zoo_core.specs import ModelSpec, PaperRef
from zoo_plugin_graphics.config import GraphicsConfig

PAPER = PaperRef(
    title="FaceForensics++: Learning to Detect Manipulated Facial Images (ICCV 2019), the FaceSwap method",
    url="https://arxiv.org/abs/1901.08971",
    arxiv="1901.08971",
)


@hookimpl
def register_models(register: Register) -> None:
    register(
        ModelSpec(
            name="graphics-512",
            family="graphics",
            resolution=512,
            builder="zoo_plugin_graphics.model:build",
            capabilities=frozenset({"swap"}),
            template="ffhq",
            default_config=GraphicsConfig().model_dump(),
            needs_weights=False,
            paper=PAPER,
            source_url="https://github.com/MarekKowalski/FaceSwap",
            license="apache-2.0",
            description="Graphics-based face swap (the 'FaceSwap' manipulation of FaceForensics++): dlib's 68 "
            "landmarks, a fixed piecewise-affine mesh putting the source's texture on the target's geometry, "
            "Lab colour transfer and Poisson blending. No weights: nothing to download or convert.",
        )
    )
