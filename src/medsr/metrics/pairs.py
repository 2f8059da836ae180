"""Evaluate prediction/reference :class:`~medsr.data.Volume` pairs under a protocol."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medsr.errors import ConfigError, InputError
from medsr.metrics.aggregate import CaseResult
from medsr.metrics.protocols import Protocol, get_protocol
from medsr.volume import Volume

#: Relative tolerance when comparing voxel spacings.
SPACING_RTOL = 1e-4


def check_pair(pred: Volume, ref: Volume, *, pred_name: str, ref_name: str) -> None:
    """Raise unless ``pred`` and ``ref`` share channels, shape and spacing.

    Args:
        pred: Prediction volume.
        ref: Reference volume.
        pred_name: How to name the prediction in the message (usually its path).
        ref_name: How to name the reference.

    Raises:
        InputError: Naming both files and both shapes/spacings on a mismatch.
    """
    same_shape = pred.array.shape == ref.array.shape
    same_spacing = np.allclose(pred.spacing, ref.spacing, rtol=SPACING_RTOL, atol=0.0)
    if not (same_shape and same_spacing):
        raise InputError(
            pred_name,
            f"shape {pred.shape} spacing {_mm(pred.spacing)} (channels {pred.channels}) does not "
            f"match reference {ref_name}: shape {ref.shape} spacing {_mm(ref.spacing)} "
            f"(channels {ref.channels})",
        )
    if pred.channels != 1:
        raise InputError(pred_name, f"has {pred.channels} channels; metrics need one channel")


def _mm(spacing: Sequence[float]) -> str:
    return "(" + ", ".join(f"{s:g}" for s in spacing) + ") mm"


def evaluate_volumes(
    preds: Sequence[Volume],
    refs: Sequence[Volume],
    *,
    protocol: str | Protocol,
    method: str,
    cases: Sequence[str] | None = None,
    pred_names: Sequence[str] | None = None,
    ref_names: Sequence[str] | None = None,
    masks: Sequence[Volume] | None = None,
) -> list[CaseResult]:
    """Metrics of each ``preds[i]`` against ``refs[i]``.

    Args:
        preds: Prediction volumes.
        refs: Reference volumes, one per prediction.
        protocol: A protocol or its registry name.
        method: Method name stored in every row.
        cases: Case ids (default ``case0``, ``case1``...).
        pred_names: Names used in error messages (default ``pred[i]``).
        ref_names: Names used in error messages (default ``ref[i]``).
        masks: One mask per reference (non-zero = evaluated, same shape) that replaces the
            reference's foreground in a masked protocol (``brain-mask``, ``tissue-dice``).

    Returns:
        One :class:`CaseResult` per pair.

    Raises:
        ConfigError: On an unknown protocol or mismatched list lengths.
        InputError: On a shape/spacing mismatch or a pair the protocol cannot evaluate.
    """
    if isinstance(protocol, str):
        try:
            protocol = get_protocol(protocol)
        except KeyError as exc:
            raise ConfigError(str(exc.args[0])) from None
    n = len(preds)
    for label, seq in (
        ("references", refs),
        ("cases", cases),
        ("pred_names", pred_names),
        ("masks", masks),
    ):
        if seq is not None and len(seq) != n:
            raise ConfigError(
                f"got {n} predictions but {len(seq)} {label}; pass one per prediction"
            )
    if ref_names is not None and len(ref_names) != n:
        raise ConfigError(f"got {n} predictions but {len(ref_names)} ref_names")
    case_ids = list(cases) if cases is not None else [f"case{i}" for i in range(n)]
    p_names = list(pred_names) if pred_names is not None else [f"pred[{i}]" for i in range(n)]
    r_names = list(ref_names) if ref_names is not None else [f"ref[{i}]" for i in range(n)]
    rows = []
    for i in range(n):
        check_pair(preds[i], refs[i], pred_name=p_names[i], ref_name=r_names[i])
        mask = None
        if masks is not None:
            if masks[i].shape != refs[i].shape:
                raise InputError(
                    r_names[i],
                    f"its mask has shape {tuple(masks[i].shape)}, the reference "
                    f"{tuple(refs[i].shape)}; pass a mask on the reference's grid",
                )
            mask = masks[i].data
        try:
            metrics = protocol.evaluate(preds[i].data, refs[i].data, mask)
        except ValueError as exc:
            raise InputError(r_names[i], f"protocol {protocol.name!r}: {exc}") from None
        rows.append(CaseResult(case_ids[i], method, protocol.name, metrics))
    return rows
