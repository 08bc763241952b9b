"""Pair sets: identity folders drawn by seed, pair CSVs, and their errors (files only, no faces)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoo_core.errors import InputError, ZooError
from zoo_core.evaluate.pairs import read_pairs_csv, sample_pairs


def make_folders(root: Path, counts: dict[str, int]) -> Path:
    for identity, count in counts.items():
        (root / identity).mkdir(parents=True)
        for i in range(count):
            (root / identity / f"{i}.jpg").write_bytes(b"not decoded here")
    (root / "notes.txt").write_text("ignored")
    first = root / sorted(counts)[0]
    (first / ".hidden.jpg").write_bytes(b"")
    (first / "readme.txt").write_text("not an image")
    return root


def test_pairs_are_cross_identity_distinct_and_seeded(tmp_path):
    root = make_folders(tmp_path, {"a": 3, "b": 2, "c": 1, "empty": 0})
    first = sample_pairs(root, num_pairs=7, seed=1)
    assert len(first.pairs) == 7 and len(set(first.pairs)) == 7
    assert all(p.source_id != p.target_id and p.source.parent.name == p.source_id for p in first.pairs)
    assert first.pairs == sample_pairs(root, num_pairs=7, seed=1).pairs
    assert first.pairs != sample_pairs(root, num_pairs=7, seed=2).pairs
    everything = sample_pairs(root, num_pairs=1000, seed=0)
    assert len(everything.pairs) == 6 * 6 - (9 + 4 + 1)  # every ordered cross-identity pair once
    assert sorted(everything.identities) == ["a", "b", "c"] and len(everything.gallery) == 6
    # same-identity pairs: consecutive photos of one identity
    assert {(p.source.name, p.target.name, p.source_id) for p in everything.same_identity} == {
        ("0.jpg", "1.jpg", "a"), ("1.jpg", "2.jpg", "a"), ("0.jpg", "1.jpg", "b")}
    assert everything.name(everything.pairs[0].source).count("/") == 1  # names relative to DIR


def test_gallery_holds_the_identities_of_the_pairs(tmp_path):
    root = make_folders(tmp_path, {f"id{i}": 2 for i in range(10)})
    pairs = sample_pairs(root, num_pairs=2, seed=0)
    used = {p.source_id for p in pairs.pairs} | {p.target_id for p in pairs.pairs}
    assert set(pairs.identities) == used and len(pairs.gallery) == 2 * len(used)


def test_data_errors(tmp_path):
    with pytest.raises(ZooError, match="no cross-identity pairs"):
        sample_pairs(make_folders(tmp_path / "one", {"solo": 3}), 5)
    with pytest.raises(InputError, match="no such folder"):
        sample_pairs(tmp_path / "missing", 5)
    with pytest.raises(ZooError, match="at least 1"):
        sample_pairs(tmp_path / "one", 0)


def test_pairs_csv(tmp_path):
    root = make_folders(tmp_path / "photos", {"x": 2, "y": 1})
    csv_path = tmp_path / "pairs.csv"
    csv_path.write_text("source,target,source_id,target_id\n"
                        "photos/x/0.jpg,photos/y/0.jpg,x,y\n"
                        "photos/y/0.jpg,photos/x/1.jpg,y,x\n"
                        "photos/x/0.jpg,photos/x/1.jpg,x,x\n"
                        ",,,\n")
    pairs = read_pairs_csv(csv_path)
    assert [(p.source.name, p.target.name) for p in pairs.pairs] == [("0.jpg", "0.jpg"), ("0.jpg", "1.jpg")]
    assert pairs.pairs[0].source == (root / "x" / "0.jpg").resolve()
    assert [(p.source_id, p.target_id) for p in pairs.same_identity] == [("x", "x")]
    assert dict((pairs.name(p), i) for p, i in pairs.gallery) == {"photos/x/0.jpg": "x", "photos/y/0.jpg": "y",
                                                                   "photos/x/1.jpg": "x"}
    unlabelled = tmp_path / "plain.csv"
    unlabelled.write_text("source,target\nphotos/x/0.jpg,photos/y/0.jpg\n")
    plain = read_pairs_csv(unlabelled)
    assert plain.pairs[0].source_id is None and plain.gallery == () and plain.same_identity == ()


def test_pairs_csv_errors(tmp_path):
    (tmp_path / "empty.csv").write_text("source,target\n")
    with pytest.raises(ZooError, match="no pairs"):
        read_pairs_csv(tmp_path / "empty.csv")
    (tmp_path / "columns.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ZooError, match="expected the columns source,target"):
        read_pairs_csv(tmp_path / "columns.csv")
    (tmp_path / "missing.csv").write_text("source,target\nnope.jpg,nada.jpg\n")
    with pytest.raises(InputError, match="2 listed photo"):
        read_pairs_csv(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="no such pairs file"):
        read_pairs_csv(tmp_path / "absent.csv")


def test_binary_pairs_file_is_one_clear_error(tmp_path):
    binary = tmp_path / "photo.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match=r"photo\.csv: not a UTF-8 text CSV"):
        read_pairs_csv(binary)


def test_pairs_file_that_is_no_csv_is_one_clear_error(tmp_path):
    import csv

    (tmp_path / "notes.csv").write_text("source,target\n" + "x" * (csv.field_size_limit() + 1) + ",b\n")
    with pytest.raises(InputError, match=r"notes\.csv: not a readable CSV \(field larger than field limit"):
        read_pairs_csv(tmp_path / "notes.csv")


def test_pairs_csv_with_a_byte_order_mark(tmp_path):
    make_folders(tmp_path, {"a": 1, "b": 1})
    (tmp_path / "bom.csv").write_text("source,target\na/0.jpg,b/0.jpg\n", encoding="utf-8-sig")
    assert [pair.source.name for pair in read_pairs_csv(tmp_path / "bom.csv").pairs] == ["0.jpg"]
