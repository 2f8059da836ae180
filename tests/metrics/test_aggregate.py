"""Per-case rows, mean +- std, JSON/CSV round trips and the text table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from medsr.metrics.aggregate import (
    CaseResult,
    cases_from_csv,
    cases_to_csv,
    read_csv,
    read_json,
    summarize,
    summary_to_csv,
    write_csv,
    write_json,
)
from medsr.metrics.table import format_table


def _rows() -> list[CaseResult]:
    return [
        CaseResult("s1", "cubic", "fastmri", {"psnr": 30.0, "ssim": 0.9, "nrmse": 0.1, "mae": 2.0}),
        CaseResult("s2", "cubic", "fastmri", {"psnr": 32.0, "ssim": 0.8, "nrmse": 0.3, "mae": 4.0}),
        CaseResult("s3", "cubic", "fastmri", {"psnr": 37.0, "ssim": 0.7, "nrmse": 0.2, "mae": 3.0}),
        CaseResult(
            "s1", "nearest", "fastmri", {"psnr": 1 / 3, "ssim": 0.5, "nrmse": 0.4, "mae": 5.0}
        ),
    ]


def test_summary_is_mean_and_population_std_per_method() -> None:
    summary = summarize(_rows())
    assert [(s.method, s.n) for s in summary] == [("cubic", 3), ("nearest", 1)]
    cubic = summary[0]
    assert cubic.mean["psnr"] == pytest.approx(33.0)
    assert cubic.std["psnr"] == pytest.approx(np.std([30.0, 32.0, 37.0], ddof=0))
    assert cubic.std["psnr"] != pytest.approx(np.std([30.0, 32.0, 37.0], ddof=1))
    assert summary[1].std["ssim"] == 0.0


def test_json_round_trip_keeps_values_and_infinities(tmp_path: Path) -> None:
    rows = [*_rows(), CaseResult("s9", "oracle", "fastmri", {"psnr": math.inf, "ssim": 1.0})]
    path = write_json(tmp_path / "r.json", rows)
    text = path.read_text()
    doc = json.loads(text)  # strict JSON: no bare Infinity/NaN tokens
    assert "Infinity" not in text and "NaN" not in text
    assert doc["cases"][-1]["metrics"]["psnr"] == "inf"
    oracle = next(s for s in doc["summary"] if s["method"] == "oracle")
    assert oracle["mean"]["psnr"] == "inf" and oracle["std"]["psnr"] == "nan"
    assert read_json(path) == rows


def test_csv_round_trip_is_exact(tmp_path: Path) -> None:
    rows = _rows()
    path = write_csv(tmp_path / "r.csv", rows)
    assert path.read_text().splitlines()[0] == "case,method,protocol,psnr,ssim,nrmse,mae"
    back = read_csv(path)
    assert back == rows  # 1/3 survives: floats are written in round-trip form
    partial = [CaseResult("a", "m", "p", {"psnr": 1.5}), CaseResult("b", "m", "p", {"ssim": 0.5})]
    assert cases_from_csv(cases_to_csv(partial)) == partial
    with pytest.raises(ValueError, match="header"):
        cases_from_csv("x,y\n1,2\n")


def test_summary_csv_has_mean_and_std_columns() -> None:
    lines = summary_to_csv(_rows()).splitlines()
    assert lines[0].startswith("method,protocol,n,psnr_mean,psnr_std,ssim_mean")
    assert lines[1].startswith("cubic,fastmri,3,33.0,")


def test_table_lists_cases_and_mean_std() -> None:
    text = format_table(_rows())
    assert "PSNR [dB]" in text and "SSIM" in text
    assert "33.00 +- 2.94" in text  # psnr of cubic
    assert "s3" in text and "37.00" in text
    assert "s3" not in format_table(_rows(), per_case=False)
    assert format_table([]) == "(no results)"
