"""Evaluation folders and training runs: tables, box plots and training curves."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from medsr.metrics.aggregate import CaseResult, write_json
from medsr.report import build_report
from medsr.report.training import load_train_log
from tests.report._fixtures import make_train_run


def test_bare_evaluation_folder_gives_tables_and_box_plots(tmp_path: Path) -> None:
    rows = [
        CaseResult(f"s{i}", m, "fastmri", {"psnr": 30.0 + i + d, "nrmse": 0.1 * (i + 1)})
        for i in range(4)
        for m, d in (("cubic", 0.0), ("pred", 1.5))
    ]
    write_json(tmp_path / "metrics.json", rows)
    result = build_report(tmp_path)
    html = result.html.read_text(encoding="utf-8")
    assert "<img " not in html  # no volumes: no image panels
    assert all(p.suffix == ".svg" for p in result.files)
    assert any(p.name == "box_fastmri_psnr.svg" for p in result.files)
    pred = [30.0 + i + 1.5 for i in range(4)]
    assert f"{statistics.fmean(pred):.2f} ± {statistics.pstdev(pred):.2f}" in html
    assert "Protocol “fastmri”: every case" in html
    box = (tmp_path / "report_files" / "box_fastmri_psnr.svg").read_text()
    assert box.count("<circle") == 8 and "<rect" in box


def test_training_run_folder(train_run: Path) -> None:
    result = build_report(train_run)
    html = result.html.read_text(encoding="utf-8")
    assert "Training run: run" in html
    assert "config mdcsrn_wgangp" in html and "generator mdcsrn" in html
    names = {p.name for p in result.files}
    assert {"train0_loss_0.svg", "train0_loss_1.svg", "train0_val_psnr.svg"} <= names
    losses = (train_run / "report_files" / "train0_loss_0.svg").read_text()
    assert "loss (log scale)" in losses and ">g_pixel<" in losses
    signed = (train_run / "report_files" / "train0_loss_1.svg").read_text()
    assert "loss (log scale)" not in signed and ">d_loss<" in signed  # WGAN critic: signed
    val = (train_run / "report_files" / "train0_val_psnr.svg").read_text()
    assert 'stroke-dasharray="6 4"' in val and "low-quality input" in val
    # final table: baseline 28.00, last validation (step 60) 26.00 psnr
    assert "low-quality input (baseline)" in html and "<strong>28.00</strong>" in html
    assert "last validation (step 60)" in html and "26.00 (step 60)" in html


def test_running_training_log_with_a_partial_line(tmp_path: Path) -> None:
    make_train_run(tmp_path / "live", steps=30, finished=False)
    run = load_train_log(tmp_path / "live")
    assert run.summary is None and run.skipped == 1
    assert len(run.steps) == 30 and [int(v["step"]) for v in run.validation] == [20]
    html = build_report(tmp_path / "live").html.read_text(encoding="utf-8")
    assert "no summary yet" in html and "1 unreadable log line skipped" in html


def test_real_training_logs_render(tmp_path: Path) -> None:
    """The training logs shipped with the bundled models (thinned) render as curves."""
    from medsr.artifact.zoo import available, read_card
    from medsr.report.training import training_blocks

    names = available()
    assert names, "no bundled model is installed"
    for name in names:
        run_dir = tmp_path / name
        run_dir.mkdir()
        log = read_card(name)["log"]
        (run_dir / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
        run = load_train_log(run_dir)
        assert run.steps and run.validation
        assert training_blocks(run, name)


def test_train_runs_are_added_to_a_demo_report(
    demo_src: Path, train_run: Path, tmp_path: Path
) -> None:
    result = build_report(demo_src, out_dir=tmp_path, train_runs=[train_run])
    html = result.html.read_text(encoding="utf-8")
    assert 'id="training"' in html and "Training run: run" in html
    case_log = html[html.index('id="case-mr3d"') : html.index('id="case-ct2d"')]
    assert "generator losses" in case_log  # the case's own training_log.jsonl


def test_empty_training_log_is_refused(tmp_path: Path) -> None:
    from medsr.errors import InputError

    (tmp_path / "log.jsonl").write_text(json.dumps({"event": "checkpoint", "step": 0}) + "\n")
    with pytest.raises(InputError, match=r"log\.jsonl: no step or validation rows"):
        build_report(tmp_path)
