"""Hook implementations of zoo-plugin-ilvr: the ILVR variants as plain data.

``zoo list`` imports this module: it must not import torch, diffusers or the model modules.
"""

from __future__ import annotations

from zoo_core.hookspecs import Register, hookimpl
from zoo_core.specs import ConverterSpec, ModelSpec, PaperRef, RoleSpec, SourceFile, TrainerSpec
from zoo_plugin_ilvr.config import CELEBAHQ, FFHQ, ILVRConfig

PAPER = PaperRef(
    title="ILVR: Conditioning Method for Denoising Diffusion Probabilistic Models (ICCV 2021)",
    url="https://arxiv.org/abs/2108.02938",
    arxiv="2108.02938",
)
SOURCE_URL = "https://github.com/jychoi118/ilvr_adm"
CAPABILITIES = frozenset({"swap", "diffusion", "generate"})


# google/ddpm-ema-celebahq-256 keeps its UNet at the repository root (diffusion_pytorch_model.bin,
# diffusers' early layout). No public file pins a commit: the branch is resolved at the first
# download and that commit (and the file's sha256) is recorded and reused afterwards.
SOURCES = {
    "ilvr-celebahq-256": (SourceFile(
        role="unet", url="hf-hub:google/ddpm-ema-celebahq-256/diffusion_pytorch_model.bin", licence="apache-2.0",
        reference="the Hub repository google/ddpm-ema-celebahq-256 (Ho et al.'s CelebA-HQ DDPM, EMA weights)",
    ),),
    "ilvr-ffhq-256": (SourceFile(
        role="unet", licence="mit",
        instructions="download ffhq_10m.pt from the Google Drive link in jychoi118/ilvr_adm's README (Pre-trained models)",
    ),),
}


def _variant(name: str, config: ILVRConfig, license: str, dataset: str, description: str) -> ModelSpec:
    """One ILVR variant: a DDPM checkpoint, always the same pipeline, builder and loader."""
    return ModelSpec(
        name=name, family="ilvr", resolution=256,
        builder="zoo_plugin_ilvr.model:build", loader="zoo_plugin_ilvr.model:load",
        capabilities=CAPABILITIES, template="ffhq", default_config=config.model_dump(),
        paper=PAPER, source_url=SOURCE_URL, license=license, datasets=(dataset,), description=description,
        sources=SOURCES[name],
    )


@hookimpl
def register_models(register: Register) -> None:
    register(_variant(
        "ilvr-celebahq-256", CELEBAHQ, "apache-2.0", "CelebA-HQ",
        "ILVR on Ho et al.'s CelebA-HQ DDPM (diffusers repository google/ddpm-ema-celebahq-256, fixed small variance).",
    ))
    register(_variant(
        "ilvr-ffhq-256", FFHQ, "mit", "FFHQ",
        "ILVR on the official ADM FFHQ model ffhq_10m.pt (learned variance), converted to a diffusers UNet2DModel.",
    ))


@hookimpl
def register_converters(register: Register) -> None:
    register(ConverterSpec(
        name="ilvr-celebahq-256", target="ilvr-celebahq-256",
        function="zoo_plugin_ilvr.convert:convert_diffusers_unet",
        roles={"unet": RoleSpec(description="unet/ weights of the Hub repository google/ddpm-ema-celebahq-256",
                                example="diffusion_pytorch_model.safetensors")},
        description="diffusers UNet2DModel file -> ILVR pipeline folder",
    ))
    register(ConverterSpec(
        name="ilvr-ffhq-256", target="ilvr-ffhq-256",
        function="zoo_plugin_ilvr.convert:convert_adm",
        roles={"unet": RoleSpec(description="guided-diffusion UNetModel state dict (jychoi118/ilvr_adm README models)",
                                example="ffhq_10m.pt")},
        description="guided-diffusion (ADM) UNetModel -> diffusers UNet2DModel pipeline folder",
    ))


@hookimpl
def register_trainers(register: Register) -> None:
    register(TrainerSpec(name="ilvr", trainer="zoo_plugin_ilvr.train:ILVRTrainer",
                         description="DDPM fine-tuning with the improved-DDPM hybrid loss (L_simple + L_vlb)"))
