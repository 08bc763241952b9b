"""Hook implementations of zoo-plugin-styleface: the StyleFace variants as plain data, the
trainer and the ``zoo styleface`` commands.

``zoo list`` imports this module: it must not import torch or ``.model`` / ``.train``.
"""

from __future__ import annotations

from typing import Any

from zoo_core.hookspecs import Register, hookimpl
from zoo_core.specs import ModelSpec, PaperRef, TrainerSpec
from zoo_plugin_styleface.config import CONFIG_256, CONFIG_1024, IDENTITY_ENCODER

PAPER = PaperRef(
    title="StyleFace: Towards Identity-Disentangled Face Generation on Megapixels (ECCV 2022)",
    url="https://www.ecva.net/papers.php",  # ECCV 2022 proceedings index
)
CAPABILITIES = frozenset({"swap", "deidentify"})

_VARIANTS = (
    ("styleface-1024", 1024, CONFIG_1024,
     "StyleFace at 1024 px (the paper's model): StyleGAN2 config-f generator, VAE identity projector "
     "into Z+ (low/mid/high), Adaptive Attribute Extractor with AttrInjection; swap and de-identify. "
     "No trained weights exist."),
    ("styleface-256", 256, CONFIG_256,
     "StyleFace at 256 px: the same architecture on a 256 px StyleGAN2 generator, for cheaper "
     "training. No trained weights exist."),
)


@hookimpl
def register_models(register: Register) -> None:
    for name, resolution, config, description in _VARIANTS:
        register(ModelSpec(
            name=name,
            family="styleface",
            resolution=resolution,
            builder="zoo_plugin_styleface.model:build",
            capabilities=CAPABILITIES,
            template="ffhq",
            identity_encoder=IDENTITY_ENCODER,
            default_config=config.model_dump(mode="json"),
            paper=PAPER,
            license="apache-2.0",
            datasets=("FFHQ", "VGGFace2", "CelebA-HQ"),
            description=description,
        ))


@hookimpl
def register_trainers(register: Register) -> None:
    register(TrainerSpec(name="styleface", trainer="zoo_plugin_styleface.train:StyleFaceTrainer",
                         description="StyleFace Eq. 1-12: GAN + R1, contrastive Z+/W+, mask, FM, rec, ICL, KL"))


@hookimpl
def register_commands(cli: Any) -> None:
    from zoo_plugin_styleface.commands import styleface_group

    cli.add_command(styleface_group)
