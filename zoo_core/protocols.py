"""The contracts between the core and the model plugins.

Tensor contract for every swap-like method: images are NCHW float RGB in [0, 1], aligned face
crops at ``spec.resolution`` (aligned with the template ``spec.template``), on the model's
device; batch element ``i`` of each argument forms one pair/tuple. The output has the target's
shape. Identity codes are ``(N, D)`` float tensors.

These are runtime-checkable ``typing.Protocol`` classes: ``isinstance`` checks attribute
presence only, so the core also declares capabilities as data in the ``ModelSpec`` (that is
what ``zoo list`` shows without building anything).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from zoo_core.errors import InputError

if TYPE_CHECKING:  # pragma: no cover - typing only, torch stays out of start-up
    import torch
    from pydantic import BaseModel

    from zoo_core.specs import ModelSpec

    Tensor = torch.Tensor
else:
    Tensor = Any


@runtime_checkable
class SwapModel(Protocol):
    """A face-swap model: puts the identity of ``source`` into ``target``."""

    spec: ModelSpec

    def swap(self, source: Tensor, target: Tensor, *, identity: Tensor | None = None) -> Tensor:
        """Return ``target`` with the identity of ``source`` (both ``(N, 3, R, R)`` in [0, 1];
        ``source`` may have one row for every target).

        ``identity``: a precomputed ``self.identity(source)``, ``(N, D)`` or ``(1, D)`` for every
        target. When given, the model does not run its identity encoder on ``source`` (so one
        source is encoded once for many targets and video frames) and the result is exactly the
        one without it; ``source`` is still passed, for models that also use its pixels.
        """
        ...

    def identity(self, source: Tensor) -> Tensor:
        """Return the identity code ``(N, D)`` the model conditions on: everything ``swap``
        derives from ``source`` alone with its identity encoder (a model without a separable
        code returns its reusable precomputed source data, flattened)."""
        ...


def swap_identity(model: SwapModel, source: Tensor, target: Tensor, identity: Tensor | None = None) -> Tensor:
    """The identity code a swap of ``target`` conditions on, one row per target: ``identity``
    when given (the identity encoder is not run), else ``model.identity(source)``; a single
    row is broadcast (a view, no copy)."""
    code = model.identity(source) if identity is None else identity
    rows = target.shape[0]
    if code.shape[0] not in (1, rows):
        raise InputError(f"identity batch {code.shape[0]} does not match target batch {rows} (or 1)")
    return code if code.shape[0] == rows else code.expand(rows, *code.shape[1:])


@runtime_checkable
class Deidentifier(Protocol):
    """Replaces the identity of ``target`` by a sampled virtual identity (StyleFace)."""

    def deidentify(self, target: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Return ``target`` with a virtual identity drawn with ``generator`` (reproducible)."""
        ...


@runtime_checkable
class IdentityMixer(Protocol):
    """Builds a new identity from several sources (MFIM ID mixing, Sec. 3.3)."""

    def mix(self, global_source: Tensor, local_source: Tensor, target: Tensor) -> Tensor:
        """Swap into ``target`` the global ID attributes (face shape) of ``global_source``
        and the local ones (eyes, nose, lips) of ``local_source``."""
        ...


@runtime_checkable
class DiffusionSampler(Protocol):
    """Sampling settings of diffusion-based swappers (ILVR, survey Alg. 1).

    ``num_inference_steps``: respaced reverse steps; ``conditioning_range``: the timestep
    ``range_t`` above which low frequencies are replaced by the target's; ``downsample_factor``:
    the low-pass factor ``N`` of the filter phi_N.
    """

    num_inference_steps: int
    conditioning_range: int
    downsample_factor: int


@runtime_checkable
class ReferenceGenerator(Protocol):
    """Generates a new face guided by one reference image (the original ILVR use)."""

    def generate(self, reference: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Return samples ``(N, 3, R, R)`` in [0, 1] sharing the reference's low frequencies."""
        ...


@runtime_checkable
class Trainer(Protocol):
    """What a plugin supplies to the core training engine for one model family.

    The engine builds it as ``TrainerClass(spec, model_config, config)`` with ``config`` an
    instance of ``config_schema`` (defaults: the paper's hyperparameters), asks for networks,
    optimizers and schedulers, prepares them with accelerate, then on every batch runs the
    phases in order: ``step`` returns named losses, the engine back-propagates ``"total"``,
    clips, and steps that phase's optimizer.
    """

    config_schema: type[BaseModel]
    """Pydantic schema whose defaults are the paper's hyperparameters."""

    phases: Sequence[str]
    """Phase names in the order the engine runs them per batch, e.g. ("generator", "discriminator")."""

    sampler: str
    """Pair schedule (``zoo_core.train.samplers.SAMPLERS``): "random", "alternating" (SimSwap),
    "warmup" (StyleFace), "identity-group" (Facke); options from ``sampler_options``."""

    sampler_options: Mapping[str, Any]

    ema: Mapping[str, float]
    """Networks the engine keeps an exponential moving average of, with their decay (may be empty)."""

    def build_networks(self) -> Mapping[str, torch.nn.Module]:
        """The networks to train and checkpoint, by name (e.g. "generator", "discriminator")."""
        ...

    def build_optimizers(self, networks: Mapping[str, torch.nn.Module]) -> Mapping[str, torch.optim.Optimizer]:
        """One optimizer per phase, keyed by phase name."""
        ...

    def build_schedulers(self, optimizers: Mapping[str, torch.optim.Optimizer]) -> Mapping[str, Any]:
        """Learning-rate schedulers keyed by phase (may be empty: constant rates)."""
        ...

    def step(self, phase: str, batch: Mapping[str, Tensor], networks: Mapping[str, torch.nn.Module],
             step: int) -> Mapping[str, Tensor]:
        """Run one phase on one batch; return named scalar losses, "total" being optimised.

        ``batch``: "source", "target" (N, 3, R, R) in [0, 1], "same" (N,) bool (same identity),
        "source_id", "target_id" (N,) identity indices; with ``sampler_options["positives"]``
        also "source_positive" (N, 3, R, R), another photo of each source's identity.
        """
        ...

    def sample_grid(self, batch: Mapping[str, Tensor], networks: Mapping[str, torch.nn.Module]) -> Tensor:
        """An image grid (3, H, W) in [0, 1]: source | target | swap, one row per pair."""
        ...

    def export(self, networks: Mapping[str, torch.nn.Module]) -> SwapModel:
        """The trained model (with ``spec`` and ``config``) for ``save_pretrained``."""
        ...


CAPABILITY_PROTOCOLS: dict[str, type] = {
    "swap": SwapModel,
    "deidentify": Deidentifier,
    "mix": IdentityMixer,
    "diffusion": DiffusionSampler,
    "generate": ReferenceGenerator,
}
"""Capability names a ``ModelSpec`` may declare, and the protocol a built model must satisfy."""
