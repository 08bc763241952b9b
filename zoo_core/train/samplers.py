"""Pair schedules of the papers, as deterministic functions of (seed, step, process).

Each sampler returns, for one micro-batch, ``batch_size`` pairs ``(source, target)`` of photo
indices and whether each pair is same-identity. Because a micro-batch depends only on the
seed, its index and the process index, resuming at step ``s`` continues with exactly the batch
an uninterrupted run would have drawn, and every process draws different data. With
``micro_batches`` (gradient accumulation) micro-batches per optimizer step, schedules such as
``same_ratio`` follow the optimizer step ``index // micro_batches``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zoo_core.errors import ZooError
from zoo_core.train.data import FaceFolder

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]  # sources, targets, same-identity flags


def _rng(seed: int, step: int, process: int) -> np.random.Generator:
    return np.random.default_rng([seed, step, process])


@dataclass
class PairSampler:
    """Base: pairs with a same-identity probability given by ``same_ratio(step)``.

    ``positives``: batches also hold ``second_photos`` of the sources (StyleFace's X^{j'}).
    """

    data: FaceFolder
    batch_size: int
    seed: int = 0
    micro_batches: int = 1
    positives: bool = False

    def __post_init__(self) -> None:
        self.groups = self.data.by_identity()
        self.multi = [i for i, g in enumerate(self.groups) if len(g) >= 2]

    def same_ratio(self, step: int) -> float:
        return 0.5

    def pairs(self, index: int, process: int = 0) -> Pairs:
        """The pairs of micro-batch ``index``."""
        rng = _rng(self.seed, index, process)
        same = rng.random(self.batch_size) < self.same_ratio(index // self.micro_batches)
        return self._draw(rng, same)

    def second_photos(self, sources: np.ndarray, index: int, process: int = 0) -> np.ndarray:
        """Another photo of each source's identity (the source itself when its identity has one
        photo), from a stream of its own: the pairs of ``index`` do not change."""
        rng = np.random.default_rng([self.seed, index, process, 1])
        identities = self.data.identities
        photos = np.empty_like(sources)
        for i, source in enumerate(sources):
            others = [p for p in self.groups[identities[source]] if p != source]
            photos[i] = rng.choice(others) if others else source
        return photos

    def _draw(self, rng: np.random.Generator, same: np.ndarray) -> Pairs:
        sources = np.empty(len(same), dtype=np.int64)
        targets = np.empty(len(same), dtype=np.int64)
        for i, is_same in enumerate(same):
            if is_same:
                group = self.groups[rng.choice(self.multi)] if self.multi else self.groups[rng.integers(len(self.groups))]
                picked = rng.choice(group, size=2, replace=len(group) < 2)
                sources[i], targets[i] = picked
            else:
                if len(self.groups) < 2:
                    raise ZooError(f"{self.data.root}: cross-identity pairs need at least two identities")
                a, b = rng.choice(len(self.groups), size=2, replace=False)
                sources[i], targets[i] = rng.choice(self.groups[a]), rng.choice(self.groups[b])
        return sources, targets, same


class AlternatingSampler(PairSampler):
    """SimSwap: same-identity batches on even steps, cross-identity batches on odd steps
    (the reconstruction loss applies to the former only)."""

    def pairs(self, step: int, process: int = 0) -> Pairs:
        rng = _rng(self.seed, step, process)
        return self._draw(rng, np.full(self.batch_size, step % 2 == 0))


@dataclass
class WarmupSampler(PairSampler):
    """StyleFace: the share of same-identity pairs is 100% until ``start_step``, falls linearly
    to 50% over the next ``warmup_steps`` optimizer steps, then stays at 50%."""

    warmup_steps: int = 10_000
    start_step: int = 0

    def same_ratio(self, step: int) -> float:
        progress = (step - self.start_step) / max(1, self.warmup_steps)
        return 1.0 - 0.5 * min(1.0, max(0.0, progress))


@dataclass
class IdentityGroupSampler(PairSampler):
    """Facke's identity grouping: a batch holds ``batch_size / group`` identities with ``group``
    photos each; pairs are formed inside the batch, same-identity within a group and
    cross-identity across groups (``same_ratio`` of them same-identity)."""

    group: int = 2
    ratio: float = 0.5

    def same_ratio(self, step: int) -> float:
        return self.ratio

    def pairs(self, step: int, process: int = 0) -> Pairs:
        if self.batch_size % self.group:
            raise ZooError(f"batch size {self.batch_size} is not a multiple of the identity group {self.group}")
        rng = _rng(self.seed, step, process)
        pool = self.multi or list(range(len(self.groups)))
        chosen = rng.choice(pool, size=self.batch_size // self.group, replace=len(pool) < self.batch_size // self.group)
        members = [rng.choice(self.groups[i], size=self.group, replace=len(self.groups[i]) < self.group) for i in chosen]
        targets = np.concatenate(members)
        owner = np.repeat(np.arange(len(chosen)), self.group)
        same = rng.random(self.batch_size) < self.ratio
        sources = np.empty_like(targets)
        for i, is_same in enumerate(same):
            mates = np.flatnonzero(owner == owner[i]) if is_same else np.flatnonzero(owner != owner[i])
            if not len(mates):
                mates = np.flatnonzero(owner == owner[i])
            sources[i] = targets[rng.choice(mates)]
        ids = np.asarray(self.data.identities)
        return sources, targets, ids[sources] == ids[targets]  # groups may repeat an identity


SAMPLERS = {"random": PairSampler, "alternating": AlternatingSampler, "warmup": WarmupSampler, "identity-group": IdentityGroupSampler}
