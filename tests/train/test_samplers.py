"""The papers' pair schedules, and their determinism (the basis of exact resume)."""

from __future__ import annotations

import numpy as np
import pytest

from zoo_core.errors import InputError, ZooError
from zoo_core.train.data import FaceFolder
from zoo_core.train.samplers import (
    AlternatingSampler,
    IdentityGroupSampler,
    PairSampler,
    WarmupSampler,
)


@pytest.fixture
def folder(tmp_path) -> FaceFolder:
    for identity, count in [("a", 3), ("b", 2), ("c", 4), ("d", 1)]:
        (tmp_path / identity).mkdir()
        for i in range(count):
            (tmp_path / identity / f"{i}.png").write_bytes(b"")
    return FaceFolder.scan(tmp_path)


def identities(folder, indices):
    return np.asarray(folder.identities)[indices]


def test_scan_identity_and_flat_folders(folder, tmp_path):
    assert folder.names == ("a", "b", "c", "d") and len(folder) == 10
    assert folder.by_identity()[1] == [3, 4]
    flat = tmp_path / "flat"
    flat.mkdir()
    for name in ("x.jpg", "y.png", "notes.txt"):
        (flat / name).write_bytes(b"")
    scanned = FaceFolder.scan(flat)
    assert scanned.names == ("x", "y") and scanned.identities == (0, 1)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no images"):
        FaceFolder.scan(empty)


def test_pairs_are_a_pure_function_of_seed_step_and_process(folder):
    sampler = PairSampler(folder, batch_size=8, seed=3)
    first = sampler.pairs(17, 0)
    assert all(np.array_equal(a, b) for a, b in zip(first, sampler.pairs(17, 0), strict=True))
    other_process = sampler.pairs(17, 1)
    other_step = sampler.pairs(18, 0)
    assert not np.array_equal(first[0], other_process[0]) or not np.array_equal(first[1], other_process[1])
    assert not np.array_equal(first[0], other_step[0]) or not np.array_equal(first[1], other_step[1])


def test_same_flags_match_identities(folder):
    sources, targets, same = PairSampler(folder, batch_size=64, seed=0).pairs(0)
    src, tgt = identities(folder, sources), identities(folder, targets)
    assert np.all(src[same] == tgt[same]) and np.all(src[~same] != tgt[~same])
    assert 0.3 < same.mean() < 0.7
    assert "d" not in {folder.names[i] for i in src[same]}  # one photo only: never a same pair


def test_simswap_alternation(folder):
    sampler = AlternatingSampler(folder, batch_size=6, seed=0)
    assert sampler.pairs(0)[2].all() and not sampler.pairs(1)[2].any() and sampler.pairs(2)[2].all()


def test_styleface_warmup_from_all_same_to_half(folder):
    sampler = WarmupSampler(folder, batch_size=400, seed=0, warmup_steps=100)
    assert sampler.same_ratio(0) == 1.0 and sampler.same_ratio(50) == 0.75 and sampler.same_ratio(500) == 0.5
    assert sampler.pairs(0)[2].all()
    assert abs(sampler.pairs(1000)[2].mean() - 0.5) < 0.08


def test_warmup_counts_optimizer_steps_from_its_start(folder):
    """The warm-up starts at ``start_step`` (after a pre-training stage) and counts optimizer
    steps: with 4 micro-batches per step, micro-batch 4 * s belongs to step s."""
    sampler = WarmupSampler(folder, batch_size=400, seed=0, warmup_steps=100, start_step=20, micro_batches=4)
    assert [sampler.same_ratio(s) for s in (0, 20, 70, 120, 500)] == [1.0, 1.0, 0.75, 0.5, 0.5]
    assert sampler.pairs(4 * 20 + 3)[2].all()  # the last micro-batch of step 20: still all same
    assert abs(sampler.pairs(4 * 70)[2].mean() - 0.75) < 0.08  # not 1 - 0.5 * 260 / 100 (micro-batches)


def test_second_photos_are_other_photos_of_the_sources_identity(folder):
    sampler = PairSampler(folder, batch_size=64, seed=0, positives=True)
    sources, targets, same = sampler.pairs(3)
    photos = sampler.second_photos(sources, 3)
    assert np.array_equal(identities(folder, photos), identities(folder, sources))
    alone = identities(folder, sources) == folder.names.index("d")  # one photo: itself
    assert np.array_equal(photos[alone], sources[alone]) and np.all(photos[~alone] != sources[~alone])
    assert np.array_equal(photos, sampler.second_photos(sources, 3))  # deterministic
    again = sampler.pairs(3)  # drawing them leaves the pairs as they were
    assert all(np.array_equal(a, b) for a, b in zip((sources, targets, same), again, strict=True))


def test_facke_identity_groups(folder):
    sampler = IdentityGroupSampler(folder, batch_size=8, seed=0, group=2, ratio=0.5)
    sources, targets, same = sampler.pairs(5)
    tgt = identities(folder, targets)
    assert all(tgt[i] == tgt[i + 1] for i in range(0, 8, 2))  # two photos of each chosen identity
    src = identities(folder, sources)
    assert np.all((src == tgt) == same)
    assert set(sources) <= set(targets)  # sources come from inside the batch
    with pytest.raises(ZooError, match="not a multiple"):
        IdentityGroupSampler(folder, batch_size=7, group=2).pairs(0)
