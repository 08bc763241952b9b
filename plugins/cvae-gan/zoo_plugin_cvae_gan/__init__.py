"""Hook implementations of zoo-plugin-cvae-gan: the CVAE-GAN variant as plain data.

``zoo list`` imports this module: it must not import torch or ``.model`` / ``.convert``.
"""

from __future__ import annotations

from zoo_core.hookspecs import Register, hookimpl
from zoo_core.specs import ConverterSpec, ModelSpec, PaperRef, RoleSpec, SourceFile, TrainerSpec
from zoo_plugin_cvae_gan.config import CONFIG_224

PAPER = PaperRef(
    title="Facke: a Survey on Generative Models for Face Swapping (2022), §2.2 CVAE-GAN",
    url="https://arxiv.org/abs/2206.11203",
    arxiv="2206.11203",
)
SOURCE_URL = "https://github.com/Ailon-Island/Facke"
CHECKPOINT = "checkpoints/CVAE_GAN/{net}/1468511_iter.pth"
"""Where Facke's ``load_net`` reads each network (README: best CVAE-GAN iteration 1468511)."""

ROLES = {
    "M1": RoleSpec(
        description="Facke's M1 (Merge_Image): Linear(512, 224*224) + BatchNorm1d, the identity "
        "as a fourth input channel",
        example=CHECKPOINT.format(net="M1"),
    ),
    "E": RoleSpec(
        description="Facke's E (Encoder): first layer, down1..down3 and the mu / log_var heads",
        example=CHECKPOINT.format(net="E"),
    ),
    "M2": RoleSpec(
        description="Facke's M2 (Merge_Distribution): the nine AdaIN ID blocks",
        example=CHECKPOINT.format(net="M2"),
    ),
    "D": RoleSpec(
        description="Facke's D: the Decoder (up1..up3, conv2), not a discriminator (D1/D2 are "
        "training-only and not needed)",
        example=CHECKPOINT.format(net="D"),
    ),
    "identity": RoleSpec(
        description="SimSwap's pickled ArcFace that Facke loads (utils/Arcface/; the same file as "
        "SimSwap's release 1.0, either upload)",
        example="arcface_checkpoint.tar",
    ),
}


FACKE_INSTRUCTIONS = (
    "download Facke's CVAE-GAN checkpoints from a link in Ailon-Island/Facke's README (JBox, Baidu, Google Drive "
    "or Mega; no program can fetch them) and take {file}"
)
# Facke loads SimSwap's ArcFace: the release 1.0 file, pinned as in the SimSwap plugin's sources.
SOURCES = (
    *(SourceFile(role=role, instructions=FACKE_INSTRUCTIONS.format(file=CHECKPOINT.format(net=role)),
                 licence="cc-by-nc-4.0") for role in ("M1", "E", "M2", "D")),
    SourceFile(role="identity", url="https://github.com/neuralchen/SimSwap/releases/download/1.0/arcface_checkpoint.tar",
               sha256="52ea5ce4902017b77a2bb811dd9a82f57dee3883e06c18a42d288437263c7a20", licence="cc-by-nc-4.0",
               reference="neuralchen/SimSwap README (release 1.0); sha256 from a public evaluation script"),
)


@hookimpl
def register_models(register: Register) -> None:
    register(
        ModelSpec(
            name="cvae-gan-224",
            family="cvae-gan",
            resolution=224,
            builder="zoo_plugin_cvae_gan.model:build",
            capabilities=frozenset({"swap"}),
            template="ffhq",  # VGGFace2-HQ crops (FFHQ alignment), resized to 224 by Facke
            identity_encoder="simswap-arcface",
            default_config=CONFIG_224.model_dump(),
            paper=PAPER,
            source_url=SOURCE_URL,
            license="cc-by-nc-4.0",
            datasets=("VGGFace2-HQ",),
            description="Facke's CVAE-GAN at 224 px (models/CVAE): SimSwap's generator as a "
            "conditional VAE with a 28x28x512 latent and 9 AdaIN ID blocks; SimSwap's ArcFace.",
            sources=SOURCES,
        )
    )


@hookimpl
def register_converters(register: Register) -> None:
    register(
        ConverterSpec(
            name="cvae-gan-224",
            target="cvae-gan-224",
            function="zoo_plugin_cvae_gan.convert:convert_official",
            roles=ROLES,
            description="Ailon-Island/Facke M1/E/M2/D state dicts + arcface_checkpoint.tar -> zoo folder",
        )
    )


@hookimpl
def register_trainers(register: Register) -> None:
    register(TrainerSpec(name="cvae-gan", trainer="zoo_plugin_cvae_gan.train:CVAEGANTrainer",
                         description="CVAE-GAN losses (survey §2.2) on the core engine"))
