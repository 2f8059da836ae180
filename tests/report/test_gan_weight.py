"""The folded PSNR stage and the perception-distortion (--gan-weight) section of a demo report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from medsr.errors import InputError
from medsr.report import build_document, build_report
from medsr.report.doc import Charts, Heading, Table
from medsr.report.gan_weight import TITLE, load_gan_weight_curve
from medsr.report.sections import model_groups
from medsr.report.sources import load_case
from medsr.report.tables import format_value
from tests.report._fixtures import CURVE, add_psnr_stage, make_demo

PSNR = "mdcsrn-t1-k2-psnr"


@pytest.fixture(scope="module")
def folded_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo fixture with the PSNR stage folded into case mr3d and its curve."""
    root = make_demo(tmp_path_factory.mktemp("folded") / "demo", with_train_log=False)
    return add_psnr_stage(root, "mr3d")


@pytest.fixture(scope="module")
def folded_report(folded_src: Path, tmp_path_factory: pytest.TempPathFactory):
    return build_report(folded_src, out_dir=tmp_path_factory.mktemp("folded_report"))


def _section(doc) -> list:
    """The blocks of the --gan-weight section (up to the next heading of its level or above)."""
    i = next(k for k, b in enumerate(doc.blocks) if isinstance(b, Heading) and b.text == TITLE)
    level = doc.blocks[i].level
    end = next(
        (
            k
            for k in range(i + 1, len(doc.blocks))
            if isinstance(doc.blocks[k], Heading) and doc.blocks[k].level <= level
        ),
        len(doc.blocks),
    )
    return doc.blocks[i:end]


def test_section_has_charts_tables_command_and_meaning(folded_src: Path, folded_report) -> None:
    doc = build_document(folded_src)
    titles = [b for b in doc.blocks if isinstance(b, Heading) and b.text == TITLE]
    assert len(titles) == 1  # only mr3d has a curve
    case_start = next(
        k for k, b in enumerate(doc.blocks) if getattr(b, "anchor", "") == "case-mr3d"
    )
    assert doc.blocks.index(titles[0]) > case_start  # inside the case
    section = _section(doc)
    charts = [c for b in section if isinstance(b, Charts) for c in b.charts]
    assert [c.name for c in charts] == [
        "case_mr3d_ganweight_psnr.svg",
        "case_mr3d_ganweight_ssim.svg",
        "case_mr3d_ganweight_hfen.svg",
    ]
    tables = [b for b in section if isinstance(b, Table)]
    assert [t.caption for t in tables] == [
        "--gan-weight curve, protocol “brain-mask” (primary)",
        "--gan-weight curve, protocol “unit-range”",
    ]
    for table, protocol in zip(tables, ("brain-mask", "unit-range")):
        assert table.columns == ["A", "model", "PSNR (dB) ↑", "SSIM ↑", "HFEN ↓"]
        assert [r.cells[0].text for r in table.rows] == ["0", "0.25", "0.5", "0.75", "1"]
        assert table.rows[0].cells[1].text == f"= {PSNR}"
        assert table.rows[-1].cells[1].text == "= mdcsrn-t1-k2 (as trained)"
        for row, (_, psnr, ssim, hfen) in zip(table.rows, CURVE[protocol]):
            assert [c.text for c in row.cells[2:]] == [
                format_value("psnr", psnr),
                format_value("ssim", ssim),
                format_value("hfen", hfen),
            ]
        # best of each column bold: PSNR and SSIM at A = 0, HFEN (lower is better) at A = 1
        assert [c.bold for c in table.rows[0].cells[2:]] == [True, True, False]
        assert [c.bold for c in table.rows[-1].cells[2:]] == [False, False, True]
    text = " ".join(b.text for b in section if hasattr(b, "text") and not isinstance(b, Heading))
    assert "A = 0 is mdcsrn-t1-k2-psnr, A = 1 is mdcsrn-t1-k2" in text
    assert "medsr enhance IN --model mdcsrn-t1-k2 --gan-weight A -o OUT" in text
    assert "without the data-consistency step" in text
    html = folded_report.html.read_text(encoding="utf-8")
    assert html.count(TITLE) == 1  # a level-4 heading: not in the table of contents
    part = html[html.index(TITLE) :]
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in part[: part.index("</table>")]
    assert "PSNR (dB) ↑" in part and "HFEN ↓" in part
    md = folded_report.markdown.read_text(encoding="utf-8")
    assert "report_files/case_mr3d_ganweight_psnr.svg" in md
    assert all((folded_report.html.parent / "report_files" / c.name).is_file() for c in charts)


def test_a_2d_curve_says_nothing_about_data_consistency(folded_src: Path, tmp_path: Path) -> None:
    from medsr.report.gan_weight import gan_weight_blocks

    path = tmp_path / "gan_weight_curve.json"
    data = json.loads((folded_src / "cases" / "mr3d" / "gan_weight_curve.json").read_text())
    path.write_text(json.dumps({**data, "data_consistency": None}))
    curve = load_gan_weight_curve(path)
    assert curve.data_consistency is None
    texts = [b.text for b in gan_weight_blocks(curve, "x") if type(b).__name__ == "Text"]
    assert texts and not any("data-consistency" in t for t in texts)


def test_no_section_without_a_curve(demo_report, tmp_path: Path) -> None:
    assert TITLE not in demo_report.html.read_text(encoding="utf-8")
    root = add_psnr_stage(make_demo(tmp_path / "demo", with_train_log=False), curve=False)
    doc = build_document(root)
    assert not [b for b in doc.blocks if isinstance(b, Heading) and b.text == TITLE]
    # the PSNR stage's rows are there all the same
    assert any(
        isinstance(b, Table) and any(r.cells[0].text == PSNR for r in b.rows) for b in doc.blocks
    )


def test_psnr_stage_rows_join_the_gan_models_group(folded_src: Path) -> None:
    doc = build_document(folded_src)
    cases = [load_case(folded_src / "cases" / c, c) for c in ("mr3d", "ct2d", "mr2d", "mr3b")]
    from medsr.report.sources import load_metrics

    groups = model_groups(load_metrics(folded_src / "metrics.json"), cases)
    assert [g.model for g in groups] == ["mdcsrn-t1-k2", "ct-denoiser", "srgan-t1-x2"]
    assert groups[0].models == [PSNR, "mdcsrn-t1-k2"]
    assert groups[0].title.startswith(f"mdcsrn-t1-k2 (with {PSNR}) — ")
    assert groups[2].models == ["srgan-t1-x2"]
    # summary table of the group: baselines first, then the (no DC) row, the PSNR stage, the model
    start = next(k for k, b in enumerate(doc.blocks) if getattr(b, "anchor", "") == "summary")
    table = next(
        b
        for b in doc.blocks[start:]
        if isinstance(b, Table) and b.caption.endswith("(mdcsrn-t1-k2)")
    )
    names = [r.cells[0].text.split(" (=")[0] for r in table.rows]
    assert names[-2:] == [PSNR, "mdcsrn-t1-k2"]
    assert f"{PSNR} (no DC)" in names[:-2]
    assert [r.cells[0].text for r in table.rows if r.highlight] == [PSNR, "mdcsrn-t1-k2"]
    # the PSNR stage was run on 1 of the 2 cases of the group: n says so
    psnr_row = next(r for r in table.rows if r.cells[0].text == PSNR)
    assert psnr_row.cells[1].text == "1"
    assert table.columns[-1] == "HFEN ↓"


def test_case_facts_and_data_consistency_name_both_stages(folded_report) -> None:
    html = folded_report.html.read_text(encoding="utf-8")
    case = html[html.index('id="case-mr3d"') : html.index('id="case-ct2d"')]
    assert f"{PSNR} (content-loss (PSNR) stage of mdcsrn-t1-k2; same input" in case
    section = html[html.index('id="consistency"') : html.index('id="cases"')]
    assert "0.27" in section and "3.4e-07" in section and "0.31" in section
    assert section.index(PSNR) < section.index("2.1e-07")  # PSNR stage row, then the model's


def test_bad_curve_file_is_a_one_line_error_naming_it(folded_src: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(folded_src, src)
    path = src / "cases" / "mr3d" / "gan_weight_curve.json"
    data = json.loads(path.read_text())
    data["points"][2]["gan_weight"] = 1.5
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"gan_weight_curve\.json.*points\[2\]\.gan_weight"):
        build_report(src)
    path.write_text("{")
    with pytest.raises(InputError, match=r"gan_weight_curve\.json.*invalid JSON"):
        load_gan_weight_curve(path)
    path.unlink()
    with pytest.raises(InputError, match=r"missing gan_weight_curve\.json"):
        build_report(src)
    assert not (src / "report.html").exists()
