"""build_report on a demo folder: files, self-containment, numbers, best baseline, badges."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest

from medsr.report import build_document, build_report
from medsr.report.doc import KeyValues, PanelGrid, Table
from medsr.report.markdown import FILES_DIR
from tests.report._fixtures import METRICS


def _html(result) -> str:
    return result.html.read_text(encoding="utf-8")


def test_writes_html_markdown_and_image_files(demo_report) -> None:
    assert demo_report.html.name == "report.html" and demo_report.html.is_file()
    assert demo_report.markdown.name == "report.md" and demo_report.markdown.is_file()
    assert demo_report.files, "no image files written"
    assert all(p.is_file() and p.stat().st_size > 0 for p in demo_report.files)
    assert {p.suffix for p in demo_report.files} == {".png", ".svg"}
    assert len({p.name for p in demo_report.files}) == len(demo_report.files)
    leftovers = [p.name for p in demo_report.html.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_html_is_self_contained(demo_report) -> None:
    html = _html(demo_report)
    refs = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html)
    assert refs, "no src/href attributes at all"
    for ref in refs:
        assert ref.startswith(("data:image/png;base64,", "#")), ref[:60]
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", html)
    assert "<script" not in html and "<link" not in html and "@import" not in html
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "duplicate element ids"
    n_png = sum(1 for p in demo_report.files if p.suffix == ".png")
    assert html.count("<img ") == n_png
    assert html.count("<svg ") >= sum(1 for p in demo_report.files if p.suffix == ".svg")


def _expected_cell(metric: str, values: list[float]) -> str:
    fmt = {"psnr": ".2f", "ssim": ".4f"}[metric]
    mean = statistics.fmean(values)
    if len(values) == 1:
        return format(mean, fmt)
    return f"{format(mean, fmt)} ± {format(statistics.pstdev(values), fmt)}"


def test_summary_tables_hold_mean_and_population_std(demo_src: Path, demo_report) -> None:
    doc = build_document(demo_src)
    html = _html(demo_report)
    raw = json.loads((demo_src / "metrics.json").read_text())["cases"]
    checked = 0
    for protocol in ("brain-mask", "unit-range", "ct-window"):
        table = next(
            b for b in doc.blocks if isinstance(b, Table) and f"“{protocol}”: mean" in b.caption
        )
        for row in table.rows:
            method = row.cells[0].text.split(" (")[0]
            values = {
                m: [
                    c["metrics"][m]
                    for c in raw
                    if c["method"] == method and c["protocol"] == protocol
                ]
                for m in ("psnr", "ssim")
            }
            assert row.cells[1].text == str(len(values["psnr"]))
            for col, metric in ((2, "psnr"), (3, "ssim")):
                expected = _expected_cell(metric, values[metric])
                assert row.cells[col].text == expected, (protocol, method, metric)
                assert expected in html
                checked += 1
    two_case = [r for r in raw if r["method"] == "cubic" and r["protocol"] == "brain-mask"]
    assert len(two_case) == 2, "the fixture must give some method two cases (a real std)"
    assert checked >= 20


def test_best_value_bold_and_model_row_highlighted(demo_src: Path) -> None:
    doc = build_document(demo_src)
    table = next(
        b for b in doc.blocks if isinstance(b, Table) and "“brain-mask” (primary)" in b.caption
    )
    psnr = {r.cells[0].text.split(" (")[0]: r.cells[1] for r in table.rows}
    best = max(psnr, key=lambda m: float(psnr[m].text))
    assert [m for m, c in psnr.items() if c.bold] == [best]
    highlighted = [r.cells[0].text for r in table.rows if r.highlight]
    assert highlighted == ["mdcsrn-t1-k2"]
    assert table.columns[1].endswith("↑") and table.columns[3].endswith("↓")  # PSNR, NRMSE


def _case_facts(doc, case_id: str) -> dict[str, str]:
    i = next(k for k, b in enumerate(doc.blocks) if getattr(b, "anchor", "") == f"case-{case_id}")
    kv = next(b for b in doc.blocks[i:] if isinstance(b, KeyValues))
    return dict(kv.items)


@pytest.mark.parametrize(
    ("case_id", "protocol", "baselines"),
    [
        ("mr3d", "brain-mask", ["zero-filled", "cubic", "nearest"]),
        ("ct2d", "ct-window", ["low-dose", "gaussian"]),
    ],
)
def test_best_baseline_is_the_highest_primary_metric(
    demo_src: Path, case_id: str, protocol: str, baselines: list[str]
) -> None:
    expected = max(baselines, key=lambda b: METRICS[(case_id, b, protocol)]["psnr"])
    doc = build_document(demo_src)
    assert _case_facts(doc, case_id)["best baseline"].startswith(f"{expected} (")
    i = next(k for k, b in enumerate(doc.blocks) if getattr(b, "anchor", "") == f"case-{case_id}")
    grid = next(b for b in doc.blocks[i:] if isinstance(b, PanelGrid))
    labels = [p.label for p in grid.rows[0]]
    assert f"best baseline: {expected}" in labels
    assert f"|{expected} − reference|" in labels


def test_split_badges_mark_training_and_held_out_cases(demo_report) -> None:
    html = _html(demo_report)
    start = {c: html.index(f'id="case-{c}"') for c in ("mr3d", "ct2d", "mr2d")}
    mr3d = html[start["mr3d"] : start["ct2d"]]
    ct2d = html[start["ct2d"] : start["mr2d"]]
    assert '<span class="badge train">training scan — not a held-out result</span>' in mr3d
    assert "held-out scan" not in mr3d
    assert '<span class="badge heldout">held-out scan</span>' in ct2d
    assert "training scan" not in ct2d
    summary = html[html.index('id="summary"') : html.index('id="boxplots"')]
    assert "includes 1 training scan (mr3d)" in summary


def test_data_consistency_table(demo_report) -> None:
    html = _html(demo_report)
    section = html[html.index('id="consistency"') : html.index('id="cases"')]
    assert "0.31" in section and "2.1e-07" in section and "mr3d" in section
    assert "ct2d" not in section


def test_markdown_twin_references_existing_files(demo_report) -> None:
    md = demo_report.markdown.read_text(encoding="utf-8")
    links = re.findall(r"\]\((" + FILES_DIR + r"/[^)]+)\)", md)
    assert links
    root = demo_report.markdown.parent
    assert all((root / link).is_file() for link in links)
    assert {Path(x).name for x in links} == {p.name for p in demo_report.files}
    assert "training scan — not a held-out result" in md
    assert "| method | n | PSNR (dB) ↑ |" in md


def test_panel_aspect_follows_the_spacing(demo_report) -> None:
    from PIL import Image

    # mr3d: shape (12, 40, 34), spacing (3.0, 1.0, 1.2) mm; coronal plane = D x W.
    files = {p.name: p for p in demo_report.files}
    for plane, (rows_mm, cols_mm) in {
        "axial": (40 * 1.0, 34 * 1.2),
        "coronal": (12 * 3.0, 34 * 1.2),
        "sagittal": (12 * 3.0, 40 * 1.0),
    }.items():
        with Image.open(files[f"case_mr3d_{plane}_reference.png"]) as im:
            w, h = im.size
        assert h / w == pytest.approx(rows_mm / cols_mm, rel=0.03), plane
    for name in ("case_ct2d_coronal_reference.png", "case_mr2d_sagittal_reference.png"):
        assert name not in files, "2D cases show a single plane"
    assert "case_mr2d_axial_reference.png" in files


def test_refuses_to_replace_a_report_unless_overwrite(demo_src: Path, tmp_path: Path) -> None:
    from medsr.errors import InputError

    first = build_report(demo_src, out_dir=tmp_path)
    stamp = first.html.stat().st_mtime_ns
    with pytest.raises(InputError, match=r"report\.html: already exists; pass --overwrite"):
        build_report(demo_src, out_dir=tmp_path)
    assert first.html.stat().st_mtime_ns == stamp
    again = build_report(demo_src, out_dir=tmp_path, overwrite=True, title="Second")
    assert "<title>Second</title>" in again.html.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "report.html",
        "report.md",
        "report_files",
    ]


def test_default_out_dir_is_the_source(tmp_path: Path, demo_src: Path) -> None:
    import shutil

    src = tmp_path / "copy"
    shutil.copytree(demo_src, src)
    result = build_report(src)
    assert result.html == src / "report.html"
    assert (src / "report_files").is_dir()


def test_case_without_metrics_still_gets_panels(demo_src: Path, tmp_path: Path) -> None:
    import shutil

    src = tmp_path / "src"
    shutil.copytree(demo_src, src)
    data = json.loads((src / "metrics.json").read_text())
    data["cases"] = [c for c in data["cases"] if c["case"] != "ct2d"]
    (src / "metrics.json").write_text(json.dumps(data))
    doc = build_document(src)
    i = next(k for k, b in enumerate(doc.blocks) if getattr(b, "anchor", "") == "case-ct2d")
    grid = next(b for b in doc.blocks[i:] if isinstance(b, PanelGrid))
    labels = [p.label for p in grid.rows[0]]
    # low-dose is the input itself: the panels show the other baseline, not called "best"
    assert labels[:2] == ["low-dose input", "baseline: gaussian"]
    assert "best baseline" not in _case_facts(doc, "ct2d")


def test_input_note_only_for_methods_that_are_the_input(demo_src: Path) -> None:
    doc = build_document(demo_src)
    table = next(
        b for b in doc.blocks if isinstance(b, Table) and "“unit-range”: mean" in b.caption
    )
    names = [r.cells[0].text for r in table.rows]
    assert "zero-filled (= input)" in names and "low-dose (= input)" in names
    assert "cubic" in names and "nearest" in names
