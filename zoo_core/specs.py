"""Registry entries as plain data (pydantic). Builders are ``"module:function"`` strings so that
registering a spec never imports torch or model code."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

MODEL_NAME_RE = re.compile(r"^(?P<family>[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*)-(?P<resolution>\d+)(?:\.(?P<tag>[a-z0-9_-]+))?$")
"""``<family>-<resolution>[.<tag>]``; the family may contain dashes (``cvae-gan-224``, ``ilvr-ffhq-256``)."""

_IMPORT_PATH_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


DEFAULT_RECOGNIZER = "dlib-resnet"
"""The recognizer component used when none is named: matching ``--reference`` faces and
measuring identity in evaluation (offline, and not any model's training encoder)."""

CAPABILITIES = ("swap", "deidentify", "mix", "diffusion", "generate")
"""What a model may declare it can do; ``zoo_core.protocols.CAPABILITY_PROTOCOLS`` gives the
protocol a built model must then satisfy."""


def _check_import_path(value: str) -> str:
    if not _IMPORT_PATH_RE.match(value):
        raise ValueError(f"expected 'package.module:attribute', got {value!r}")
    return value


ImportPath = Annotated[str, AfterValidator(_check_import_path)]
"""A lazily resolved ``"package.module:attribute"`` reference."""


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WeightFile(_Spec):
    """One file of a weights repository, pinned by content."""

    filename: str
    sha256: str | None = None
    size: int | None = None

    @field_validator("sha256")
    @classmethod
    def _sha(cls, value: str | None) -> str | None:
        if value is not None and not _SHA256_RE.match(value):
            raise ValueError(f"sha256 must be 64 lowercase hex digits, got {value!r}")
        return value


class WeightsSpec(_Spec):
    """Where pretrained weights live: a Hub repository pinned to a full commit."""

    repo_id: str
    revision: str
    files: tuple[WeightFile, ...] = ()
    license: str = "other"
    original_license: str | None = Field(None, description="licence of the original (official) weights")

    @field_validator("revision")
    @classmethod
    def _full_commit(cls, value: str) -> str:
        if not _COMMIT_RE.match(value):
            raise ValueError(f"revision must be a full 40-hex commit hash, got {value!r}")
        return value


class RoleSpec(_Spec):
    """One input file a converter takes (``zoo convert NAME ROLE=FILE``)."""

    description: str
    required: bool = True
    example: str | None = Field(None, description="the official file name, e.g. latest_net_G.pth")


class ConverterSpec(_Spec):
    """Official checkpoint(s) -> our state dict. ``function(checkpoints, config) -> state dict``
    where ``checkpoints`` maps role -> flat ``{key: tensor}`` read by the core's safe readers."""

    name: str
    target: str = Field(description="model or component name whose state dict it produces")
    function: ImportPath
    roles: dict[str, RoleSpec]
    description: str = ""
    version: str = Field("1", description="bumped when the converter's output changes (part of the cache key)")
    plugin: str = ""



HF_HUB_SCHEME = "hf-hub:"
SOURCE_SCHEMES = ("https://", "http://", HF_HUB_SCHEME)


class SourceFile(_Spec):
    """One official file a converter role takes, and where it comes from: a URL the program
    can fetch (``https://...`` or ``hf-hub:ORG/REPO/PATH``), or ``instructions`` for files that
    only a person can get (forms, e-mail requests, Google Drive, Baidu)."""

    role: str = Field(description="the converter role the file feeds")
    url: str | None = Field(None, description="https://HOST/PATH, or hf-hub:ORG/REPO/PATH for a Hub file")
    revision: str | None = Field(None, description="Hub only: a branch, tag or (best) a full commit")
    sha256: str | None = Field(None, description="sha256 of the downloaded file, when published")
    size: int | None = Field(None, description="size in bytes, when published")
    member: str | None = Field(None, description="path of the file inside a zip or tar archive")
    member_sha256: str | None = Field(None, description="sha256 of the archive member, when published")
    licence: str | None = None
    instructions: str | None = Field(None, description="how a person obtains the file, when no program can")
    reference: str | None = Field(None, description="the public document that states the URL or hash")

    @field_validator("sha256", "member_sha256")
    @classmethod
    def _sha(cls, value: str | None) -> str | None:
        if value is not None and not _SHA256_RE.match(value):
            raise ValueError(f"sha256 must be 64 lowercase hex digits, got {value!r}")
        return value

    @model_validator(mode="after")
    def _where(self) -> SourceFile:
        if (self.url is None) == (self.instructions is None):
            raise ValueError(f"source of role {self.role!r} needs exactly one of url and instructions")
        if self.url is not None and not self.url.startswith(SOURCE_SCHEMES):
            raise ValueError(f"source url {self.url!r} must start with one of {SOURCE_SCHEMES}")
        if self.is_hub and self.url[len(HF_HUB_SCHEME):].count("/") < 2:  # type: ignore[index]
            raise ValueError(f"source url {self.url!r}: expected hf-hub:ORG/REPO/PATH")
        if self.revision is not None and not self.is_hub:
            raise ValueError("a revision applies to hf-hub: sources only")
        if self.member_sha256 is not None and self.member is None:
            raise ValueError("member_sha256 needs member")
        return self

    @property
    def fetchable(self) -> bool:
        """The program can download it (no person needed)."""
        return self.url is not None

    @property
    def is_hub(self) -> bool:
        return self.url is not None and self.url.startswith(HF_HUB_SCHEME)

    def describe(self) -> str:
        """One line: where the file comes from, how it is checked, its size and licence."""
        if self.url is None:
            return f"{self.role}: manual: {self.instructions}"
        member = f" (member {self.member})" if self.member else ""
        revision = f" @ {self.revision}" if self.revision else ""
        pin = f"sha256 {self.sha256}" if self.sha256 else "sha256 recorded at first download"
        size = f", {self.size:,} bytes" if self.size else ""
        licence = f", licence {self.licence}" if self.licence else ""
        return f"{self.role}: {self.url}{revision}{member}, {pin}{size}{licence}"


def all_fetchable(sources: tuple[SourceFile, ...]) -> bool:
    return bool(sources) and all(source.fetchable for source in sources)


def check_unique_roles(name: str, sources: tuple[SourceFile, ...]) -> None:
    roles = [source.role for source in sources]
    if len(roles) != len(set(roles)):
        raise ValueError(f"{name!r} names a converter role twice in its sources: {roles}")


class PaperRef(_Spec):
    title: str
    url: str
    arxiv: str | None = None


class ModelSpec(_Spec):
    """Everything about one model variant, cheap to create and to list."""

    name: str
    family: str
    resolution: int
    builder: ImportPath = Field(description="'module:function' called as function(spec, config) -> model")
    capabilities: frozenset[str] = frozenset({"swap"})
    template: str = Field(description="alignment template name of the face crops the model takes")
    identity_encoder: str | None = Field(None, description="component name of the identity encoder")
    supervisors: tuple[str, ...] = Field(
        (), description="other networks its training losses fit (e.g. a 3DMM regressor): metrics measured "
        "with them reward fitting the supervisor, and evaluation warns"
    )
    default_config: dict[str, Any] = Field(default_factory=dict)
    weights: WeightsSpec | None = None
    needs_weights: bool = Field(
        True, description="False: the builder returns the complete model (no learned parameters, e.g. a graphics method)"
    )
    loader: ImportPath | None = Field(
        None, description="'module:function'(spec, folder, config) for weight repos not in zoo layout"
    )
    sources: tuple[SourceFile, ...] = Field((), description="the official files its converter takes")
    paper: PaperRef | None = None
    source_url: str | None = None
    license: str | None = Field(None, description="licence of the official weights (SPDX-style id)")
    datasets: tuple[str, ...] = ()
    description: str = ""
    card: str | None = Field(None, description="'package:path/to/card.md' resource with the card prose")
    plugin: str = Field("", description="distribution that registered it (set by the registry)")

    @field_validator("capabilities")
    @classmethod
    def _known_capabilities(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = sorted(set(value) - set(CAPABILITIES))
        if unknown:
            raise ValueError(f"unknown capabilities {unknown}; known: {sorted(CAPABILITIES)}")
        return value

    @model_validator(mode="after")
    def _name_matches(self) -> ModelSpec:
        match = MODEL_NAME_RE.match(self.name)
        if not match:
            raise ValueError(f"model name {self.name!r} is not '<family>-<resolution>[.<tag>]'")
        if int(match["resolution"]) != self.resolution:
            raise ValueError(f"model name {self.name!r} does not end in its resolution {self.resolution}")
        if not self.name.startswith(self.family + "-"):
            raise ValueError(f"model name {self.name!r} does not start with its family {self.family!r}")
        if not self.needs_weights and (self.weights or self.loader or self.sources):
            raise ValueError(f"{self.name!r} needs no weights but names weights, sources or a loader")
        check_unique_roles(self.name, self.sources)
        return self

    @property
    def pretrained(self) -> bool:
        """Pretrained weights the program can get alone: a Hub repository, or official sources
        that can all be downloaded."""
        return self.weights is not None or all_fetchable(self.sources)

    @property
    def tag(self) -> str | None:
        match = MODEL_NAME_RE.match(self.name)
        return match["tag"] if match else None


class ComponentSpec(_Spec):
    """A reusable part beside the models: identity encoders, detectors, templates, ..."""

    name: str
    kind: str = Field(description="'identity_encoder', 'detector', 'template', ...")
    builder: ImportPath | None = Field(None, description="'module:function'(config) -> object")
    default_config: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict, description="plain data for data-only kinds")
    weights: WeightsSpec | None = None
    sources: tuple[SourceFile, ...] = Field((), description="the official files its converter takes")
    description: str = ""
    plugin: str = ""

    @model_validator(mode="after")
    def _unique_roles(self) -> ComponentSpec:
        check_unique_roles(self.name, self.sources)
        return self

    @property
    def pretrained(self) -> bool:
        return self.weights is not None or all_fetchable(self.sources)



class TrainerSpec(_Spec):
    """The Trainer class of one family (or one variant), built lazily by the training engine."""

    name: str = Field(description="family or variant name it trains")
    trainer: ImportPath = Field(description="'module:Class' implementing zoo_core.protocols.Trainer")
    description: str = ""
    plugin: str = ""



class MetricSpec(_Spec):
    """One evaluation metric, built lazily by the evaluation engine."""

    name: str
    builder: ImportPath = Field(description="'module:function'(**options) -> zoo_core.evaluate.metrics.Metric")
    higher_is_better: bool
    description: str = ""
    paper: str | None = Field(None, description="where the papers define or report it")
    plugin: str = ""

