"""Hook implementations of zoo-plugin-simswap: the SimSwap variants as plain data.

``zoo list`` imports this module: it must not import torch or ``.model`` / ``.convert``.
"""

from __future__ import annotations

from zoo_core.hookspecs import Register, hookimpl
from zoo_core.specs import ConverterSpec, ModelSpec, PaperRef, RoleSpec, SourceFile, TrainerSpec
from zoo_plugin_simswap.config import CONFIG_224, CONFIG_512

PAPER = PaperRef(
    title="SimSwap: An Efficient Framework For High Fidelity Face Swapping (ACM MM 2020)",
    url="https://arxiv.org/abs/2106.06340",
    arxiv="2106.06340",
)
SOURCE_URL = "https://github.com/neuralchen/SimSwap"
IDENTITY_ROLE = RoleSpec(
    description="SimSwap's pickled ArcFace (release 1.0, arcface_model/; the pre-2023 file "
    "or the 2023-04-25 re-upload)",
    example="arcface_checkpoint.tar",
)

# Official release files. The 224 archive's and the ArcFace file's sha256 (and the member's) are
# pinned by a public evaluation script that fixes SimSwap's current uploads; the official README
# says arcface_checkpoint.tar was re-uploaded on 2023-04-25 (these hashes are of that upload).
# The 512 beta archive has no published hash: it is recorded at its first download, and its
# member name is the one the official preparation guide gives (checked when it is extracted).
RELEASES = "https://github.com/neuralchen/SimSwap/releases/download"
LICENCE = "cc-by-nc-4.0"
IDENTITY_SOURCE = SourceFile(
    role="identity", url=f"{RELEASES}/1.0/arcface_checkpoint.tar",
    sha256="52ea5ce4902017b77a2bb811dd9a82f57dee3883e06c18a42d288437263c7a20", licence=LICENCE,
    reference="neuralchen/SimSwap README (release 1.0; re-uploaded 2023-04-25); sha256 from a public evaluation script",
)
SOURCES = {
    "simswap-224": (
        SourceFile(
            role="generator", url=f"{RELEASES}/1.0/checkpoints.zip",
            sha256="0593544d9401d6bf28247932466b54e98a79139e328e3ab3ec1c541c5efc6ee8",
            member="checkpoints/people/latest_net_G.pth",
            member_sha256="24caf144e9aabd5acd1127b06f13ed3528240adb9e747d77a94ac3f33e672330", licence=LICENCE,
            reference="neuralchen/SimSwap docs/guidance/preparation.md; sha256 from a public evaluation script",
        ),
        IDENTITY_SOURCE,
    ),
    "simswap-512": (
        SourceFile(
            role="generator", url=f"{RELEASES}/512_beta/512.zip", member="512/550000_net_G.pth", licence=LICENCE,
            reference="neuralchen/SimSwap docs/guidance/preparation.md (512 beta); no published sha256",
        ),
        IDENTITY_SOURCE,
    ),
}

_VARIANTS = (
    # name, resolution, template, config, datasets, generator file, description
    (
        "simswap-224", 224, "simswap-224", CONFIG_224, ("VGGFace2",),
        RoleSpec(
            description="official 224 generator state dict (release 1.0 checkpoints.zip, checkpoints/people/)",
            example="latest_net_G.pth",
        ),
        "SimSwap 224 px (models/fs_networks.py): 9 AdaIN ID blocks conditioned on SimSwap's ArcFace; "
        "crops aligned with insightface's five-pose template.",
    ),
    (
        "simswap-512", 512, "ffhq", CONFIG_512, ("VGGFace2-HQ",),
        RoleSpec(
            description="official 512 beta generator state dict (release 512_beta 512.zip, checkpoints/512/)",
            example="550000_net_G.pth",
        ),
        "SimSwap 512 px beta (models/fs_networks_512.py): a 32-channel first layer and one more "
        "down/up stage than the 224 model; FFHQ-aligned crops.",
    ),
)


@hookimpl
def register_models(register: Register) -> None:
    for name, resolution, template, config, datasets, generator_role, description in _VARIANTS:
        register(
            ModelSpec(
                name=name,
                family="simswap",
                resolution=resolution,
                builder="zoo_plugin_simswap.model:build",
                capabilities=frozenset({"swap"}),
                template=template,
                identity_encoder="simswap-arcface",
                default_config=config.model_dump(),
                paper=PAPER,
                source_url=SOURCE_URL,
                license=LICENCE,
                datasets=datasets,
                description=description,
                sources=SOURCES[name],
            )
        )


@hookimpl
def register_converters(register: Register) -> None:
    for name, _resolution, _template, _config, _datasets, generator_role, _description in _VARIANTS:
        register(
            ConverterSpec(
                name=name,
                target=name,
                function="zoo_plugin_simswap.convert:convert_official",
                roles={"generator": generator_role, "identity": IDENTITY_ROLE},
                description="neuralchen/SimSwap generator + arcface_checkpoint.tar -> zoo folder",
            )
        )


@hookimpl
def register_trainers(register: Register) -> None:
    register(TrainerSpec(name="simswap", trainer="zoo_plugin_simswap.train:SimSwapTrainer",
                         description="SimSwap losses (survey Eq. 1-8) on the core engine"))
