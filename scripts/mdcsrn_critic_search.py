"""Search the layouts near the mDCSRN reference critic for the compressed critic's 17.629M.

Counts parameters analytically (conv weights + biases, full-shape layer norm ``2 C prod(S)`` after
every conv but the first, pooled head ``C h + h + h + 1``) at a 64^3 patch, checks the formula
against the built :class:`~medsr.models.discriminators.MDCSRNCritic`, and reports

1. every single change (one conv removed, one stage narrowed, the whole width scaled, the hidden
   width changed, one layer norm made per-channel or dropped, another cubic patch) and whether any
   hits 17,629,xxx (none does);
2. the two-change solutions "depth or width change + the hidden width that completes the count".

Run: ``python scripts/mdcsrn_critic_search.py`` (a few seconds). ``docs/models.md`` quotes the output.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

LOW, HIGH = 17_629_000, 17_630_000
REF_WIDTHS = (64, 64, 128, 128, 256, 256, 512, 512)
REF_STRIDES = (1, 2, 1, 2, 1, 2, 1, 2)


def count(
    widths: Sequence[int] = REF_WIDTHS,
    strides: Sequence[int] = REF_STRIDES,
    *,
    hidden: int = 1024,
    patch: int = 64,
    norms: Sequence[str] | None = None,
) -> int:
    """Parameters of the critic; ``norms[i]`` is ``full``, ``channel`` or ``none`` (conv ``i``)."""
    total, prev, size = 0, 1, patch
    for i, (c, s) in enumerate(zip(widths, strides)):
        total += prev * c * 27 + c
        size = math.ceil(size / s)
        kind = "none" if i == 0 else (norms[i] if norms else "full")
        total += {"full": 2 * c * size**3, "channel": 2 * c, "none": 0}[kind]
        prev = c
    return total + prev * hidden + 2 * hidden + 1


def without(indices: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    keep = [i for i in range(8) if i not in indices]
    return tuple(REF_WIDTHS[i] for i in keep), tuple(REF_STRIDES[i] for i in keep)


def single_changes() -> list[tuple[str, int]]:
    rows: list[tuple[str, int]] = []
    for i in range(8):
        rows.append((f"remove conv {i}", count(*without([i]))))
    for stage, w in itertools.product(range(4), range(8, 1025, 8)):
        widths = list(REF_WIDTHS)
        widths[2 * stage] = widths[2 * stage + 1] = w
        rows.append((f"stage {stage} width {w}", count(widths)))
    for base in range(1, 129):
        widths = [base * (w // 64) for w in REF_WIDTHS]
        rows.append((f"base width {base}", count(widths)))
        rows.append((f"base width {base}, hidden {16 * base}", count(widths, hidden=16 * base)))
    for h in range(0, 8193, 8):
        rows.append((f"hidden {h}", count(hidden=h)))
    for i, kind in itertools.product(range(1, 8), ("channel", "none")):
        norms = ["full"] * 8
        norms[i] = kind
        rows.append((f"norm {i} {kind}", count(norms=norms)))
    for p in range(16, 129):
        rows.append((f"patch {p}", count(patch=p)))
    return rows


def hidden_solutions(widths: Sequence[int], strides: Sequence[int]) -> list[int]:
    """Hidden widths ``h`` that put the count in ``[LOW, HIGH)``."""
    body = count(widths, strides, hidden=0) - 1
    per = widths[-1] + 2
    first = math.ceil((LOW - 1 - body) / per)
    return [h for h in range(max(first, 1), first + 4) if LOW <= body + per * h + 1 < HIGH]


def two_changes() -> list[tuple[str, int, int]]:
    rows = []
    for k in (1, 2):
        for removed in itertools.combinations(range(8), k):
            widths, strides = without(removed)
            for h in hidden_solutions(widths, strides):
                rows.append((f"remove convs {removed}", h, count(widths, strides, hidden=h)))
    for base in range(8, 129):
        widths = tuple(base * (w // 64) for w in REF_WIDTHS)
        for h in hidden_solutions(widths, REF_STRIDES):
            rows.append((f"base width {base}", h, count(widths, hidden=h)))
    return rows


def main() -> None:
    from medsr.models.discriminators import MDCSRNCritic, mdcsrn_critic

    def built(module: object) -> int:
        return sum(p.numel() for p in module.parameters())  # type: ignore[attr-defined]

    assert built(mdcsrn_critic()) == count() == 31_155_777
    small = MDCSRNCritic(patch_size=48, channels=(16, 32, 48, 80), hidden=100)
    assert built(small) == count((16, 16, 32, 32, 48, 48, 80, 80), hidden=100, patch=48)
    print(f"reference: {count():,}")
    hits = [(name, n) for name, n in single_changes() if LOW <= n < HIGH]
    print(f"single changes hitting 17,629,xxx: {hits or 'none'}")
    print("two changes (depth or width + the hidden width that completes the count):")
    for name, h, n in sorted(two_changes(), key=lambda r: (r[1] % 8 != 0, r[1])):
        if h <= 4096:
            print(f"  {name:28s} hidden {h:5d} -> {n:,}")


if __name__ == "__main__":
    main()
