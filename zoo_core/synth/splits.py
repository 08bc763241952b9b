"""Identity-disjoint splits: identities are split first, pairs are made inside each split, so
no identity appears (as source or target) in two splits. Or FaceForensics++'s split files."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

from zoo_core.errors import InputError

SPLITS = ("train", "val", "test")


def parse_fractions(text: str) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` -> fractions of train, val and test (non-negative, summing to 1)."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError as error:
        raise InputError(f"--splits {text!r}: expected three numbers such as 0.8,0.1,0.1") from error
    if len(values) != 3 or min(values) < 0 or abs(sum(values) - 1.0) > 1e-6:
        raise InputError(f"--splits {text!r}: expected three non-negative fractions summing to 1")
    return values  # type: ignore[return-value]


def split_counts(total: int, fractions: Sequence[float]) -> list[int]:
    """How many of ``total`` identities each split gets: largest remainders; then every split
    with a positive fraction is topped up to two identities (the fewest that can be paired),
    or one when there are too few, taken from the largest split."""
    exact = [total * f for f in fractions]
    counts = [int(x) for x in exact]
    for index in sorted(range(len(exact)), key=lambda i: (counts[i] - exact[i], i))[: total - sum(counts)]:
        counts[index] += 1
    positive = [i for i, f in enumerate(fractions) if f > 0]
    least = 2 if total >= 2 * len(positive) else 1
    for index in positive:
        while counts[index] < least:
            donor = max(range(len(counts)), key=lambda i: counts[i])
            if counts[donor] <= least:
                break
            counts[index], counts[donor] = counts[index] + 1, counts[donor] - 1
    return counts


def assign_splits(identities: Sequence[str], fractions: Sequence[float], seed: int) -> dict[str, str]:
    """Each identity's split: the sorted identities shuffled with ``seed``, cut by ``fractions``."""
    order = sorted(set(identities))
    random.Random(seed).shuffle(order)
    result: dict[str, str] = {}
    start = 0
    for split, count in zip(SPLITS, split_counts(len(order), fractions), strict=True):
        result.update((identity, split) for identity in order[start : start + count])
        start += count
    return result


def read_ffpp_splits(folder: Path) -> dict[str, list[tuple[str, str]]]:
    """FaceForensics++'s ``{train,val,test}.json`` (lists of ``[id, id]`` pairs; both orders are
    swaps, as in its dataset/splits folder); refuses an id listed in two splits."""
    pairs: dict[str, list[tuple[str, str]]] = {}
    seen: dict[str, str] = {}
    for split in SPLITS:
        path = folder / f"{split}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise InputError(f"{path}: cannot read the split file ({error})") from error
        if not isinstance(data, list) or not all(isinstance(p, list) and len(p) == 2 for p in data):
            raise InputError(f"{path}: expected a JSON list of [id, id] pairs")
        pairs[split] = [(str(a), str(b)) for a, b in data]
        for identity in {i for pair in pairs[split] for i in pair}:
            if seen.setdefault(identity, split) != split:
                raise InputError(f"{path}: id {identity!r} is also in {seen[identity]}.json")
    return pairs
