"""Seeded subject-level splits."""

from __future__ import annotations

import pytest

from medsr.config.schema import SourceConfig
from medsr.data.splits import split_items, split_subjects


def test_split_is_seeded_disjoint_and_order_free() -> None:
    ids = [f"s{i:02d}" for i in range(20)]
    a = split_subjects(ids, val_fraction=0.2, test_fraction=0.1, seed=3)
    b = split_subjects(list(reversed(ids)) + ids[:3], val_fraction=0.2, test_fraction=0.1, seed=3)
    assert a == b
    assert (len(a["train"]), len(a["val"]), len(a["test"])) == (14, 4, 2)
    assert set(a["train"]) | set(a["val"]) | set(a["test"]) == set(ids)
    assert not (set(a["train"]) & set(a["val"])) and not (set(a["val"]) & set(a["test"]))
    assert split_subjects(ids, val_fraction=0.2, seed=4)["val"] != a["val"]


def test_split_keeps_a_subject_together_and_refuses_too_few() -> None:
    items = [SourceConfig(scan=f"x{i}", subject=f"p{i // 2}") for i in range(8)]
    train, val = split_items(items, subject=lambda s: s.subject_id, val_fraction=0.25, seed=0)
    assert len(val) == 2 and val[0].subject == val[1].subject
    assert {s.subject for s in train}.isdisjoint({s.subject for s in val})
    with pytest.raises(ValueError, match="keep one for training"):
        split_subjects(["a"], val_fraction=0.5, seed=0)
