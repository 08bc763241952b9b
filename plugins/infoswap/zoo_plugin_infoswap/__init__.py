"""Hook implementations of zoo-plugin-infoswap: the InfoSwap variants as plain data and the
``zoo infoswap`` commands.

``zoo list`` imports this module: it must not import torch or the model code.
"""

from __future__ import annotations

from typing import Any

from zoo_core.hookspecs import Register, hookimpl
from zoo_core.specs import ConverterSpec, ModelSpec, PaperRef, RoleSpec, SourceFile, TrainerSpec
from zoo_plugin_infoswap.config import CONFIG_512, CONFIG_1024

PAPER = PaperRef(
    title="Information Bottleneck Disentanglement for Identity Swapping (CVPR 2021)",
    url="https://openaccess.thecvf.com/content/CVPR2021/html/Gao_Information_Bottleneck_Disentanglement_for_Identity_Swapping_CVPR_2021_paper.html",
)
SOURCE_URL = "https://github.com/GGGHSL/InfoSwap-master"


def _roles(resolution: int) -> dict[str, RoleSpec]:
    folder = "checkpoints_512/w_kernel_smooth" if resolution == 512 else "the 1024 release"
    roles = {
        "generator": RoleSpec(description=f"AII{resolution} state dict ({folder})", example="ckpt_ks_G.pth"),
        "decoder": RoleSpec(description=f"UnetDecoder{resolution} state dict", example="ckpt_ks_E.pth"),
        "iib": RoleSpec(description="IIB state dict (smooth or no-smooth mode: set smooth=false)", example="ckpt_ks_I.pth"),
        "identity": RoleSpec(description="InfoSwap's IR-SE50 on 128 px (modules/)", example="model_128_ir_se50.pth"),
    }
    for i in range(11):
        roles[f"readout{i}"] = RoleSpec(description=f"readout statistics of R_{i + 1} (modules/weights128/)",
                                        example=f"readout_layer{i}.pth")
    return roles


INSTRUCTIONS = (
    "the authors release InfoSwap's weights on request: e-mail them as GGGHSL/InfoSwap-master's USAGE.md says; "
    "the release holds this file"
)


def _sources(resolution: int) -> tuple[SourceFile, ...]:
    """Every converter role is a file of the release obtained by e-mail (no program can fetch it)."""
    return tuple(SourceFile(role=role, instructions=f"{INSTRUCTIONS} ({spec.example or spec.description})",
                            licence="cc-by-nc-sa-4.0")
                 for role, spec in _roles(resolution).items())


_VARIANTS = (
    ("infoswap-512", 512, CONFIG_512, "InfoSwap 512 px: IR-SE50 identity, 10 information bottlenecks (IIB), "
     "U-Net decoder and adaptive information integration (AII512)."),
    ("infoswap-1024", 1024, CONFIG_1024, "InfoSwap 1024 px: the 512 model's IIB with UnetDecoder1024 and AII1024 "
     "(one more level fed by the 1024 image)."),
)


@hookimpl
def register_models(register: Register) -> None:
    for name, resolution, config, description in _VARIANTS:
        register(
            ModelSpec(
                name=name,
                family="infoswap",
                resolution=resolution,
                builder="zoo_plugin_infoswap.model:build",
                capabilities=frozenset({"swap"}),
                template="infoswap-512",
                identity_encoder="infoswap-irse50",
                default_config=config.model_dump(),
                paper=PAPER,
                source_url=SOURCE_URL,
                license="cc-by-nc-sa-4.0",
                datasets=("FFHQ", "CelebA-HQ"),
                description=description,
                sources=_sources(resolution),
            )
        )


@hookimpl
def register_converters(register: Register) -> None:
    for name, resolution, _config, _description in _VARIANTS:
        register(
            ConverterSpec(
                name=name,
                target=name,
                function="zoo_plugin_infoswap.convert:convert_official",
                roles=_roles(resolution),
                description="GGGHSL/InfoSwap-master checkpoints + IR-SE50 + readout statistics -> zoo folder",
            )
        )
    register(
        ConverterSpec(
            name="infoswap-irse50",
            target="infoswap-irse50",
            function="zoo_plugin_infoswap.convert:convert_irse50",
            roles={"identity": RoleSpec(description="InfoSwap's IR-SE50 on 128 px (modules/)",
                                        example="model_128_ir_se50.pth")},
            description="InfoSwap's pretrained recognizer f(.) alone -> component folder (the trainer's "
                        "identity_weights)",
        )
    )


@hookimpl
def register_trainers(register: Register) -> None:
    register(TrainerSpec(name="infoswap", trainer="zoo_plugin_infoswap.train:InfoSwapTrainer",
                         description="InfoSwap Algorithm 1 (supplement): IB, ICL, relativistic adversarial, "
                                     "perceptual and cycle losses"))


@hookimpl
def register_commands(cli: Any) -> None:
    from zoo_plugin_infoswap.commands import infoswap_group

    cli.add_command(infoswap_group)
