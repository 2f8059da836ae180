"""build_report on a demo folder: files, self-containment, numbers, best baseline, badges."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest

from medsr.report import build_document, build_report
from medsr.report.doc import Heading, KeyValues, PanelGrid, Table, Text
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


def _case_models(src: Path) -> dict[str, str]:
    """case id -> model, read straight from the case.json files."""
    return {
        p.parent.name: json.loads(p.read_text())["model"]
        for p in sorted((src / "cases").glob("*/case.json"))
    }


def _group_tables(doc, model: str) -> tuple[str, list[Table]]:
    """The heading text and the tables of a model's block of the Summary section."""
    start = next(k for k, b in enumerate(doc.blocks) if getattr(b, "anchor", "") == "summary")
    end = next(k for k, b in enumerate(doc.blocks) if getattr(b, "anchor", "") == "boxplots")
    section = doc.blocks[start + 1 : end]
    heads = [k for k, b in enumerate(section) if isinstance(b, Heading)]
    k = next(k for k in heads if section[k].text.startswith(f"{model} — "))
    stop = next((j for j in heads if j > k), len(section))
    return section[k].text, [b for b in section[k:stop] if isinstance(b, Table)]


def test_summary_is_grouped_per_model(demo_src: Path, demo_report) -> None:
    doc = build_document(demo_src)
    html = _html(demo_report)
    md = demo_report.markdown.read_text(encoding="utf-8")
    raw = json.loads((demo_src / "metrics.json").read_text())["cases"]
    models = _case_models(demo_src)
    groups: dict[str, list[str]] = {}
    for case, model in models.items():
        groups.setdefault(model, []).append(case)
    assert sorted(groups) == ["ct-denoiser", "mdcsrn-t1-k2", "srgan-t1-x2"]
    assert sorted(groups["mdcsrn-t1-k2"]) == ["mr3b", "mr3d"]
    titles = [
        b.text
        for b in doc.blocks
        if isinstance(b, Heading) and b.level == 3 and b.anchor.startswith("summary-")
    ]
    assert titles == [
        "mdcsrn-t1-k2 — synthetic 3D MR, k-space truncation; 2 cases",
        "ct-denoiser — synthetic low-dose CT denoising; 1 case",
        "srgan-t1-x2 — synthetic 2D MR slices, x2 super-resolution; 1 case",
    ]
    checked = 0
    for model, cases in groups.items():
        title, tables = _group_tables(doc, model)
        assert title.endswith(f"; {len(cases)} case{'s' if len(cases) > 1 else ''}")
        assert f"### {title}" in md and f">{title}</h3>" in html
        mine = [c for c in raw if c["case"] in cases]
        protocols = list(dict.fromkeys(c["protocol"] for c in mine))
        assert [t.caption.split("”")[0] for t in tables] == [f"Protocol “{p}" for p in protocols]
        for protocol, table in zip(protocols, tables):
            here = [c for c in mine if c["protocol"] == protocol]
            methods = list(dict.fromkeys(c["method"] for c in here))
            shown = [r.cells[0].text.split(" (")[0] for r in table.rows]
            assert sorted(shown) == sorted(methods), (model, protocol)
            assert shown[-1] == model and table.rows[-1].highlight
            assert [r.highlight for r in table.rows].count(True) == 1
            for row in table.rows:
                method = row.cells[0].text.split(" (")[0]
                values = {
                    m: [c["metrics"][m] for c in here if c["method"] == method]
                    for m in ("psnr", "ssim")
                }
                assert len(values["psnr"]) == len(cases)
                assert row.cells[1].text == str(len(cases))
                for col, metric in ((2, "psnr"), (3, "ssim")):
                    expected = _expected_cell(metric, values[metric])
                    assert row.cells[col].text == expected, (model, protocol, method, metric)
                    assert expected in html and expected in md
                    checked += 1
    assert checked >= 30
    # the pooled mean of a baseline of both MR models appears nowhere
    pooled = [
        c["metrics"]["psnr"]
        for c in raw
        if c["method"] == "cubic" and c["protocol"] == "brain-mask"
    ]
    assert len(pooled) == 3
    assert f"{statistics.fmean(pooled):.2f} ±" not in html


def test_summary_means_by_hand(demo_src: Path) -> None:
    """The mdcsrn-t1-k2 block: mean and population std of its two cases, computed here."""
    from tests.report._fixtures import METRICS

    doc = build_document(demo_src)
    _, tables = _group_tables(doc, "mdcsrn-t1-k2")
    table = next(t for t in tables if "“brain-mask”" in t.caption)
    assert (
        table.caption == "Protocol “brain-mask”: mean ± population std over 2 cases (mdcsrn-t1-k2)"
    )
    assert [r.cells[0].text for r in table.rows] == [
        "zero-filled (= input)",
        "cubic",
        "nearest",
        "mdcsrn-t1-k2",
    ]
    for row in table.rows:
        method = row.cells[0].text.split(" (")[0]
        a = METRICS[("mr3d", method, "brain-mask")]["psnr"]
        b = METRICS[("mr3b", method, "brain-mask")]["psnr"]
        mean, std = (a + b) / 2, abs(a - b) / 2
        assert row.cells[2].text == f"{mean:.2f} ± {std:.2f}"
    _, ct_tables = _group_tables(doc, "ct-denoiser")
    assert [t.caption for t in ct_tables] == [
        "Protocol “ct-window”: 1 case (ct-denoiser)",
        "Protocol “unit-range”: 1 case (ct-denoiser)",
    ]


def test_box_plots_are_grouped_per_model(demo_report) -> None:
    names = {p.name for p in demo_report.files if p.name.startswith("box_")}
    for model, protocol in (
        ("mdcsrn-t1-k2", "brain-mask"),
        ("srgan-t1-x2", "brain-mask"),
        ("ct-denoiser", "ct-window"),
    ):
        assert f"box_{model}_{protocol}_psnr.svg" in names
    assert "box_ct-denoiser_brain-mask_psnr.svg" not in names
    svg = (demo_report.html.parent / FILES_DIR / "box_srgan-t1-x2_brain-mask_psnr.svg").read_text()
    assert svg.count("<circle") == 3  # nearest, cubic, the model: one case each
    svg = (demo_report.html.parent / FILES_DIR / "box_mdcsrn-t1-k2_brain-mask_psnr.svg").read_text()
    assert svg.count("<circle") == 8  # four methods, two cases each


def test_overview_delta_uses_the_metric_decimals(demo_src: Path) -> None:
    doc = build_document(demo_src)
    table = next(b for b in doc.blocks if isinstance(b, Table) and b.columns[-1] == "Δ")
    models = _case_models(demo_src)
    for row in table.rows:
        case = row.cells[0].text
        protocol = "ct-window" if case == "ct2d" else "brain-mask"
        model = models[case]
        baselines = json.loads((demo_src / "cases" / case / "case.json").read_text())["baselines"]
        best = max(METRICS[(case, b, protocol)]["psnr"] for b in baselines)
        delta = METRICS[(case, model, protocol)]["psnr"] - best
        expected = f"{'−' if delta < 0 else '+'}{abs(delta):.2f}"
        assert row.cells[-1].text == expected, case
        assert row.cells[-1].bold == (delta > 0)


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
    mdcsrn = summary[: summary.index('id="summary-ct-denoiser"')]
    assert mdcsrn.count("includes 1 training scan (mr3d)") == 1
    assert summary.count("training scan") == 1  # only in the group that holds mr3d


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


def _image_ratio(path: Path) -> float:
    from PIL import Image

    with Image.open(path) as im:
        w, h = im.size
    return h / w


def test_panel_aspect_follows_the_spacing(demo_report) -> None:
    files = {p.name: p for p in demo_report.files}
    # mr3d: shape (12, 40, 34), spacing (3.0, 1.0, 1.2) mm; coronal plane = D x W.
    # mr2d (sr2d, a whole volume): shape (20, 36, 16), spacing (1.5, 0.9, 1.0) mm.
    for case, (d, h, w) in {
        "mr3d": ((12, 3.0), (40, 1.0), (34, 1.2)),
        "mr2d": ((20, 1.5), (36, 0.9), (16, 1.0)),
    }.items():
        for plane, (rows, cols) in {"axial": (h, w), "coronal": (d, w), "sagittal": (d, h)}.items():
            ratio = _image_ratio(files[f"case_{case}_{plane}_reference.png"])
            expected = rows[0] * rows[1] / (cols[0] * cols[1])
            assert ratio == pytest.approx(expected, rel=0.03), (case, plane)
    # ct2d: a single (1, 48, 48) image at 0.7 x 0.7 mm
    assert _image_ratio(files["case_ct2d_axial_reference.png"]) == pytest.approx(1.0, rel=0.01)
    for plane in ("coronal", "sagittal"):
        assert f"case_ct2d_{plane}_reference.png" not in files, "a single image shows one plane"


def _case_grids(doc, case_id: str) -> list[PanelGrid]:
    i = next(k for k, b in enumerate(doc.blocks) if getattr(b, "anchor", "") == f"case-{case_id}")
    end = next(
        (k for k, b in enumerate(doc.blocks) if k > i and isinstance(b, Heading) and b.level <= 3),
        len(doc.blocks),
    )
    return [b for b in doc.blocks[i:end] if isinstance(b, PanelGrid)]


def _case_notes(doc, case_id: str) -> list[str]:
    i = next(k for k, b in enumerate(doc.blocks) if getattr(b, "anchor", "") == f"case-{case_id}")
    end = next(
        (k for k, b in enumerate(doc.blocks) if k > i and isinstance(b, Heading) and b.level <= 3),
        len(doc.blocks),
    )
    return [b.text for b in doc.blocks[i:end] if isinstance(b, Text) and b.style == "note"]


def test_planes_of_each_case(demo_src: Path) -> None:
    doc = build_document(demo_src)
    planes = {
        case: [g.caption.split(" plane")[0] for g in _case_grids(doc, case)]
        for case in ("mr3d", "mr2d", "ct2d", "mr3b")
    }
    assert planes == {
        "mr3d": ["Axial", "Coronal", "Sagittal"],
        "mr2d": ["Axial", "Coronal", "Sagittal"],  # sr2d on a volume: W thinnest, still 3
        "ct2d": ["Axial"],  # a (1, H, W) image
        "mr3b": ["Axial", "Coronal", "Sagittal"],
    }
    axial, coronal, sagittal = _case_grids(doc, "mr2d")
    assert "The 2D model worked on these axial slices" in axial.caption
    assert "worked on the axial slices, one at a time; this plane cuts across" in coronal.caption
    assert "this plane cuts across" in sagittal.caption
    assert "2D model" not in _case_grids(doc, "mr3d")[0].caption
    assert "2D model" not in _case_grids(doc, "ct2d")[0].caption
    for case in ("mr3d", "mr2d", "ct2d"):
        assert not any("transposed" in n or "thinnest" in n for n in _case_notes(doc, case))


@pytest.mark.parametrize(("shape", "plane"), [((20, 1, 24), "Coronal"), ((20, 24, 1), "Sagittal")])
def test_image_stored_transposed_shows_one_plane_with_a_note(
    tmp_path: Path, shape: tuple[int, int, int], plane: str
) -> None:
    from medsr.metrics.aggregate import write_json
    from tests.report._fixtures import make_case

    root = tmp_path / "demo"
    rows = make_case(
        root,
        "tr",
        task="sr2d",
        modality="MR",
        split="",
        shape=shape,
        spacing=(1.0, 1.0, 1.0),
        seed=5,
    )
    write_json(root / "metrics.json", rows)
    doc = build_document(root)
    grids = _case_grids(doc, "tr")
    assert [g.caption.split(" plane")[0] for g in grids] == [plane]
    notes = _case_notes(doc, "tr")
    assert any("stored transposed" in n and str(shape) in n for n in notes)


def test_choose_planes_rule() -> None:
    from medsr.report.figures import choose_planes

    centre = (3, 4, 5)
    three = [("axial", 3), ("coronal", 4), ("sagittal", 5)]
    assert choose_planes((91, 108, 90), centre) == three
    assert choose_planes((2, 2, 2), centre) == three
    assert choose_planes((1, 108, 90), centre) == [("axial", 0)]
    assert choose_planes((1, 1, 90), centre) == [("axial", 0)]
    assert choose_planes((91, 1, 90), centre) == [("coronal", 0)]
    assert choose_planes((91, 108, 1), centre) == [("sagittal", 0)]


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
    names = {}
    for model in ("mdcsrn-t1-k2", "ct-denoiser", "srgan-t1-x2"):
        _, tables = _group_tables(doc, model)
        table = next(t for t in tables if "“unit-range”" in t.caption)
        names[model] = [r.cells[0].text for r in table.rows]
    assert names["mdcsrn-t1-k2"] == ["zero-filled (= input)", "cubic", "nearest", "mdcsrn-t1-k2"]
    assert names["ct-denoiser"] == ["low-dose (= input)", "gaussian", "ct-denoiser"]
    # nearest is the input of the 2D case only: noted there, not in the 3D model's block
    assert names["srgan-t1-x2"] == ["nearest (= input)", "cubic", "srgan-t1-x2"]
