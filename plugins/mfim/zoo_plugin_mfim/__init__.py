"""Hook implementations of zoo-plugin-mfim: the MFIM variant and trainer as plain data.

``zoo list`` imports this module: it must not import torch or ``.model`` / ``.train``.
"""

from __future__ import annotations

from zoo_core.hookspecs import Register, hookimpl
from zoo_core.specs import ModelSpec, PaperRef, TrainerSpec
from zoo_plugin_mfim.config import CONFIG_1024

PAPER = PaperRef(
    title="MFIM: Megapixel Facial Identity Manipulation (ECCV 2022)",
    url="https://arxiv.org/abs/2308.01536",
    arxiv="2308.01536",
)


@hookimpl
def register_models(register: Register) -> None:
    register(
        ModelSpec(
            name="mfim-1024",
            family="mfim",
            resolution=1024,
            builder="zoo_plugin_mfim.model:build",
            capabilities=frozenset({"swap", "mix"}),
            template="ffhq",
            identity_encoder="pixel2style2pixel-irse50",
            supervisors=("deca-flame-encoder",),  # its 3DMM supervision (shape, pose, expression) fits DECA
            default_config=CONFIG_1024.model_dump(),
            paper=PAPER,
            license="other",
            datasets=("FFHQ",),
            description="MFIM: a pSp-style facial attribute encoder (IR-SE-50, M2C/M2M blocks) drives a "
            "pretrained StyleGAN2 (FFHQ 1024, config-f) with StyleSpace codes and style maps; 256 px "
            "inputs, 1024 px swaps, ID mixing. No official weights exist (train with zoo train).",
        )
    )


@hookimpl
def register_trainers(register: Register) -> None:
    register(TrainerSpec(name="mfim", trainer="zoo_plugin_mfim.train:MFIMTrainer",
                         description="MFIM losses (Eq. 1-6): ID, L1 + LPIPS, non-saturating GAN + R1, "
                         "3DMM shape/pose/expression; Table 4 presets A-E"))
