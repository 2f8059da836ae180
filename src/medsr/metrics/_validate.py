"""Argument checks shared by the metric functions."""

from __future__ import annotations

import math

import numpy as np


def as_pair(pred: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float64, checked for equal shape and finite values.

    Raises:
        ValueError: If the shapes differ, an array is empty or holds NaN/Inf.
    """
    p = np.asarray(pred, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)
    if p.shape != r.shape:
        raise ValueError(f"pred and ref must have the same shape, got {p.shape} and {r.shape}")
    if p.size == 0:
        raise ValueError(f"pred and ref are empty (shape {p.shape})")
    for name, a in (("pred", p), ("ref", r)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} holds NaN/Inf values; metrics need finite inputs")
    return p, r


def check_range(data_range: float) -> float:
    """``data_range`` as a positive finite float.

    Raises:
        ValueError: If it is not positive and finite.
    """
    value = float(data_range)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"data_range must be a positive finite number, got {data_range!r}")
    return value


def check_mask(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """``mask`` as a boolean array of ``shape`` with at least one voxel set (or None).

    Raises:
        ValueError: If the shape differs or the mask is empty.
    """
    if mask is None:
        return None
    m = np.asarray(mask, dtype=bool)
    if m.shape != shape:
        raise ValueError(f"mask shape {m.shape} differs from image shape {shape}")
    if not m.any():
        raise ValueError("mask selects no voxel")
    return m
