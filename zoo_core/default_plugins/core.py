"""The core's own plugin: the components, converters and metrics every family shares. Specs only;
nothing heavy imported."""

from __future__ import annotations

from zoo_core.evaluate.specs import METRIC_SPECS
from zoo_core.faces.templates import TEMPLATES
from zoo_core.hookspecs import Register, hookimpl
from zoo_core.nets.flame_config import DECA_COARSE
from zoo_core.nets.hopenet_config import HOPENET_ROBUST
from zoo_core.nets.identity_config import IDENTITY_ENCODER_PRESETS
from zoo_core.nets.stylegan2_config import CONFIG_F_SIZES, config_f
from zoo_core.specs import ComponentSpec, ConverterSpec, RoleSpec, SourceFile

INSIGHTFACE_INSTRUCTIONS = (
    "insightface's arcface_torch model zoo (deepinsight/insightface, recognition/arcface_torch README: Baidu Yun "
    "and OneDrive links); download backbone.pth of {model}. Non-commercial research use only (insightface licence)."
)
ENCODER_SOURCES = {
    "arcface-iresnet50": (SourceFile(
        role="backbone", instructions=INSIGHTFACE_INSTRUCTIONS.format(model="ms1mv3_arcface_r50_fp16"),
        licence="non-commercial (insightface)",
    ),),
    # The sha256 of ms1mv3_arcface_r100_fp16/backbone.pth is published in other projects' model manifests.
    "arcface-iresnet100": (SourceFile(
        role="backbone", instructions=INSIGHTFACE_INSTRUCTIONS.format(model="ms1mv3_arcface_r100_fp16"),
        sha256="a566a62357f0c55b679d9ff2f022a294486568be0c00665d39029d0e46a8109b",
        licence="non-commercial (insightface)",
        reference="sha256 as published in public model manifests of projects using this backbone",
    ),),
}
DECA_SOURCES = (SourceFile(
    role="model", licence="FLAME licence (non-commercial; registration required)",
    instructions="register at https://flame.is.tue.mpg.de and accept the FLAME licence, then download "
    "deca_model.tar from the Google Drive link in yfeng95/DECA's README (data/)",
),)
HOPENET_SOURCES = (SourceFile(
    role="model", licence="Apache-2.0 (natanielruiz/deep-head-pose)",
    instructions="download hopenet_robust_alpha1.pkl from the Google Drive link '300W-LP, alpha 1, robust to "
    "image quality' in natanielruiz/deep-head-pose's README",
),)
# NVlabs/stylegan2-ada-pytorch README, "Pretrained networks": ffhq.pkl (FFHQ 1024, config-f). No
# published sha256: it is recorded at the first download.
STYLEGAN2_FFHQ_SOURCES = (SourceFile(
    role="network", url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/ffhq.pkl",
    licence="nvidia-source-code-license-nc", reference="NVlabs/stylegan2-ada-pytorch README",
),)

_ENCODER_NOTES = {
    "arcface-iresnet50": "insightface arcface_torch iresnet50, 112 px aligned crops in [-1, 1]",
    "arcface-iresnet100": "insightface arcface_torch iresnet100, 112 px aligned crops in [-1, 1]",
    "simswap-arcface": "SimSwap's ArcFace (IR-SE ResNet-101, [3, 4, 23, 3]), 112 px, ImageNet mean/std",
    "infoswap-irse50": "InfoSwap's IR-SE50 on the 128 px resize of the 512 crop's centre [37:475]",
    "pixel2style2pixel-irse50": "pSp's ID-loss IR-SE50: crop [35:223, 32:220] of 256, area-pooled to 112",
}



@hookimpl
def register_components(register: Register) -> None:
    for name, config in IDENTITY_ENCODER_PRESETS.items():
        register(ComponentSpec(
            name=name, kind="identity_encoder", builder="zoo_core.nets.identity:build_identity_encoder",
            default_config=config.model_dump(mode="json"), description=_ENCODER_NOTES[name],
            sources=ENCODER_SOURCES.get(name, ()),
        ))
    for name, data in TEMPLATES.items():
        register(ComponentSpec(name=name, kind="template", data=data, description=data["description"]))
    register(ComponentSpec(
        name="dlib-hog", kind="detector", builder="zoo_core.faces.detect:build_dlib_detector",
        default_config={"upsample": 1, "max_side": 640, "cnn_fallback": False, "min_score": 0.0},
        description="dlib HOG detector + 68-point landmarks (PyPI dlib-bin + face-recognition-models, offline)",
    ))
    register(ComponentSpec(
        name="dlib-cnn-fallback", kind="detector", builder="zoo_core.faces.detect:build_dlib_detector",
        default_config={"upsample": 1, "max_side": 640, "cnn_fallback": True, "min_score": 0.0},
        description="dlib HOG, falling back to dlib's CNN (MMOD) detector when HOG finds nothing (slow on CPU)",
    ))
    register(ComponentSpec(
        name="scrfd", kind="detector", builder="zoo_core.faces.detect:build_scrfd_detector",
        default_config={"model_path": "~/.insightface/models/buffalo_l/det_10g.onnx", "input_size": 640,
                        "score_threshold": 0.5, "nms_threshold": 0.4},
        description="insightface SCRFD via onnxruntime; needs the det_10g.onnx weights file",
    ))
    register(ComponentSpec(
        name="dlib-resnet", kind="recognizer", builder="zoo_core.faces.recognize:build_dlib_recognizer",
        default_config={"jitter": 0}, data={"identity_encoder": "dlib-resnet-128"},
        description="dlib's 128-d face recognition ResNet (offline); used to match --reference faces",
    ))
    register(ComponentSpec(
        name="dlib-resnet-128", kind="identity_encoder", builder="zoo_core.nets.dlib_resnet:build_dlib_resnet",
        default_config={"weights": None},
        description="dlib's face verification ResNet (dlib_face_recognition_resnet_model_v1.dat, 150 px "
        "dlib chips, 128-d, same person below 0.6 Euclidean) in PyTorch, converted on load from the "
        "face-recognition-models file (or weights=FILE.dat); dlib's own network, not any paper's recognizer",
    ))
    register(ComponentSpec(
        name="dlib-resnet-torch", kind="recognizer", builder="zoo_core.faces.recognize_torch:build_dlib_torch_recognizer",
        default_config={"device": "cpu", "batch_size": 64}, data={"identity_encoder": "dlib-resnet-128"},
        description="dlib-resnet's descriptors from the PyTorch port dlib-resnet-128 (dlib landmarks and "
        "chips); describe_batch embeds many faces at once on any torch device",
    ))
    register(ComponentSpec(
        name="deca-flame-encoder", kind="3dmm_estimator", builder="zoo_core.nets.flame_encoder:build_flame_encoder",
        default_config=DECA_COARSE.model_dump(mode="json"), sources=DECA_SOURCES,
        description="DECA's coarse encoder E_flame (ResNet-50 -> FLAME shape/expression/pose/camera/light "
        "parameters) on DECA's 224 px landmark crops; weights: zoo convert deca-flame-encoder model=deca_model.tar",
    ))
    register(ComponentSpec(
        name="hopenet", kind="head_pose_estimator", builder="zoo_core.nets.hopenet:build_hopenet",
        default_config=HOPENET_ROBUST.model_dump(mode="json"), sources=HOPENET_SOURCES,
        description="Hopenet (Ruiz et al. 2018): ResNet-50 with 66-bin yaw/pitch/roll heads, degrees, on the official "
        "widened-box 224 px crops; weights: zoo convert hopenet model=hopenet_robust_alpha1.pkl",
    ))
    for size in CONFIG_F_SIZES:
        register(ComponentSpec(
            name=f"stylegan2-{size}", kind="generator", builder="zoo_core.nets.stylegan2:build_generator",
            default_config=config_f(size).model_dump(mode="json"),
            sources=STYLEGAN2_FFHQ_SOURCES if size == 1024 else (),
            description=f"StyleGAN2 config-f generator, {size} px (mapping + synthesis); weights: "
            f"zoo convert stylegan2-{size} weights=FILE.pt (rosinality/stylegan2-pytorch)",
        ))


CONVERTERS: tuple[ConverterSpec, ...] = (
    *(ConverterSpec(
        name=name, target=name, function="zoo_core.nets.identity:convert_insightface_backbone",
        roles={"backbone": RoleSpec(description="insightface arcface_torch iresnet state dict", example="backbone.pth")},
        description="insightface arcface_torch backbone.pth -> identity encoder",
    ) for name in ENCODER_SOURCES),
    ConverterSpec(
        name="deca-flame-encoder", target="deca-flame-encoder", function="zoo_core.nets.flame_encoder:convert_deca",
        roles={"model": RoleSpec(description="DECA's released model (yfeng95/DECA, data/)", example="deca_model.tar")},
        description="DECA deca_model.tar -> the E_flame FLAME-parameter regressor",
    ),
    ConverterSpec(
        name="hopenet", target="hopenet", function="zoo_core.nets.hopenet:convert_hopenet",
        roles={"model": RoleSpec(description="Hopenet's released state dict (natanielruiz/deep-head-pose README: "
                                 "'300W-LP, alpha 1, robust to image quality')", example="hopenet_robust_alpha1.pkl")},
        description="hopenet_robust_alpha1.pkl -> the Hopenet head-pose estimator (fc_finetune dropped: unused)",
    ),
    *(ConverterSpec(
        name=f"stylegan2-{size}-rosinality", target=f"stylegan2-{size}",
        function="zoo_core.nets.stylegan2_convert:convert_rosinality_checkpoint",
        roles={"weights": RoleSpec(
            description="a rosinality/stylegan2-pytorch checkpoint ({'g_ema', 'latent_avg', ...})",
            example="stylegan2-ffhq-config-f.pt" if size == 1024 else None,
        )},
        description="rosinality/stylegan2-pytorch checkpoint -> its g_ema generator",
    ) for size in CONFIG_F_SIZES),
    *(ConverterSpec(
        name=f"stylegan2-{size}-nvidia", target=f"stylegan2-{size}",
        function="zoo_core.nets.stylegan2_convert:convert_nvidia_pickle",
        roles={"network": RoleSpec(
            description="an NVlabs/stylegan2-ada-pytorch network pickle ({'G', 'D', 'G_ema', ...}, c_dim=0), "
            "read without importing its classes",
            example="ffhq.pkl" if size == 1024 else None,
        )},
        description="stylegan2-ada-pytorch snapshot -> its G_ema generator",
    ) for size in CONFIG_F_SIZES),
)
"""Converters of the core's own components (official file -> component folder)."""


@hookimpl
def register_converters(register: Register) -> None:
    for spec in CONVERTERS:
        register(spec)


@hookimpl
def register_metrics(register: Register) -> None:
    for spec in METRIC_SPECS:
        register(spec)
