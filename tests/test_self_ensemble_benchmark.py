"""``benchmarks/self_ensemble.py --cases denoise2d``: the CT rows are the quality benchmark's draws."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests._phantoms import ROOT, load_script


@pytest.fixture(scope="module")
def self_ensemble():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "benchmarks"))  # the script imports its sibling adapt.py
    try:
        yield load_script("benchmarks/self_ensemble.py")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_ct_rows_reproduce_the_demo_case_of_the_same_seed(self_ensemble, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("bm3d")
    from medsr.demo import run_demo
    from medsr.metrics.aggregate import read_json

    model, scan = "attn-dfgan-ct-qd", "pydicom_ct_693"
    res = self_ensemble.run_ct([model], [scan], seeds=1, threads=1)
    assert res["n"] == 1 and set(res["metrics"]) == {
        "bm3d (true sigma)",
        model,
        f"{model} --self-ensemble",
    }
    # quality.py's CT case of seed 0: run_demo with the benchmark extras
    out = run_demo(tmp_path, scans=[], ct_scans=[scan], models=[model], seed=0, report=False,
                   benchmark=True)  # fmt: skip
    demo = {(r.method, r.protocol): r.metrics for r in read_json(out.out_dir / "metrics.json")}
    for method in ("bm3d (true sigma)", model):
        for protocol in ("ct-window", "ldct-bench"):
            want = demo[(method, protocol)]["psnr"]
            assert res["metrics"][method][f"{protocol} psnr"] == pytest.approx(want, abs=1e-9)
    plain, ens = res["metrics"][model], res["metrics"][f"{model} --self-ensemble"]
    assert ens["ldct-bench psnr"] != plain["ldct-bench psnr"]  # the flipped passes ran


def test_denoise2d_runs_alone(self_ensemble) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit):
        self_ensemble.main(["--cases", "sr2d,denoise2d"])
