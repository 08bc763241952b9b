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

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover - typing only, torch stays out of start-up
    import torch
    from pydantic import BaseModel

    from zoo_core.registry import ModelSpec

    Tensor = torch.Tensor
else:
    Tensor = Any


@runtime_checkable
class SwapModel(Protocol):
    """A face-swap model: puts the identity of ``source`` into ``target``."""

    spec: ModelSpec

    def swap(self, source: Tensor, target: Tensor) -> Tensor:
        """Return ``target`` with the identity of ``source`` (both ``(N, 3, R, R)`` in [0, 1])."""
        ...

    def identity(self, source: Tensor) -> Tensor:
        """Return the identity code ``(N, D)`` the model conditions on."""
        ...


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

    The engine builds the trainer with its validated config, asks for the networks and the
    optimizers, then alternates the phases on every batch; each phase step computes its
    losses, calls ``backward`` on the returned total through the engine, and reports
    named scalar losses for logging.
    """

    config_schema: type[BaseModel]
    """Pydantic schema whose defaults are the paper's hyperparameters."""

    phases: Sequence[str]
    """Phase names in the order the engine runs them per batch, e.g. ("generator", "discriminator")."""

    def build_networks(self) -> Mapping[str, torch.nn.Module]:
        """Return the networks to train and checkpoint, by name (e.g. "generator", "discriminator")."""
        ...

    def build_optimizers(
        self, networks: Mapping[str, torch.nn.Module]
    ) -> Mapping[str, torch.optim.Optimizer]:
        """Return one optimizer per phase, keyed by phase name."""
        ...

    def step(self, phase: str, batch: Mapping[str, Tensor], step: int) -> Mapping[str, Tensor]:
        """Run one phase on one batch; return named losses, the key "total" being optimised."""
        ...

    def sample_grid(self, batch: Mapping[str, Tensor]) -> Tensor:
        """Return an image grid (3, H, W) in [0, 1]: source | target | swap, one row per pair."""
        ...


@runtime_checkable
class Metric(Protocol):
    """One registered evaluation metric, updated pair batch by pair batch."""

    name: str
    higher_is_better: bool

    def update(self, source: Tensor, target: Tensor, swapped: Tensor) -> None:
        """Accumulate statistics of one batch of (source, target, swap) triples."""
        ...

    def compute(self) -> float:
        """Return the metric over everything seen so far."""
        ...


@runtime_checkable
class Evaluator(Protocol):
    """Runs a model over pairs and reports named metrics."""

    def evaluate(self, model: SwapModel, pairs: Iterable[tuple[Tensor, Tensor]]) -> dict[str, float]:
        """Return ``{metric name: value}`` over all (source, target) pair batches."""
        ...


CAPABILITY_PROTOCOLS: dict[str, type] = {
    "swap": SwapModel,
    "deidentify": Deidentifier,
    "mix": IdentityMixer,
    "diffusion": DiffusionSampler,
    "generate": ReferenceGenerator,
}
"""Capability names a ``ModelSpec`` may declare, and the protocol a built model must satisfy."""
