"""Seeded subject-level splits: every subject lands in exactly one split.

The assignment depends only on the set of subject ids and the seed (ids are sorted before the
seeded permutation), so listing the scans in another order gives the same split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def split_subjects(
    subjects: Sequence[str], *, val_fraction: float, seed: int, test_fraction: float = 0.0
) -> dict[str, list[str]]:
    """Assign subject ids to ``train`` / ``val`` / ``test``.

    Each held-out split gets ``round(fraction * n)`` subjects, at least one when its fraction is
    positive, and ``train`` always keeps at least one.

    Args:
        subjects: Subject ids (duplicates are one subject).
        val_fraction: Fraction of subjects for validation, in ``[0, 1)``.
        seed: Seed of the permutation.
        test_fraction: Fraction for a test split, in ``[0, 1)``.

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}``, each sorted.

    Raises:
        ValueError: For bad fractions or too few subjects to hold any out.
    """
    if not (0.0 <= val_fraction < 1.0 and 0.0 <= test_fraction < 1.0):
        raise ValueError(
            f"fractions must be in [0, 1), got val={val_fraction}, test={test_fraction}"
        )
    ids = sorted(set(subjects))
    n = len(ids)
    n_val = max(1, round(val_fraction * n)) if val_fraction > 0 else 0
    n_test = max(1, round(test_fraction * n)) if test_fraction > 0 else 0
    if n - n_val - n_test < 1:
        raise ValueError(
            f"{n} subject(s) cannot give {n_val} validation and {n_test} test subject(s) and "
            "keep one for training; add subjects or lower the fractions"
        )
    order = np.random.default_rng(seed).permutation(n)
    val = sorted(ids[i] for i in order[:n_val])
    test = sorted(ids[i] for i in order[n_val : n_val + n_test])
    train = sorted(ids[i] for i in order[n_val + n_test :])
    return {"train": train, "val": val, "test": test}


def split_items(
    items: Sequence[T], *, subject: Callable[[T], str], val_fraction: float, seed: int
) -> tuple[list[T], list[T]]:
    """Split items (e.g. source configs) by their subject into ``(train, val)``, order kept."""
    parts = split_subjects([subject(i) for i in items], val_fraction=val_fraction, seed=seed)
    held = set(parts["val"])
    return [i for i in items if subject(i) not in held], [i for i in items if subject(i) in held]
