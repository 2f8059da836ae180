"""Image panels and charts: colour map, zoom region, profile line, aspect ratio, SVG charts."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from medsr.report import render
from medsr.report.colormap import INFERNO, apply_colormap, colormap_hex, relative_luminance
from medsr.report.svg import BoxItem, HLine, Series, box_plot, colorbar, line_chart, nice_ticks
from medsr.report.tables import (
    best_baseline,
    format_delta,
    format_mean_std,
    higher_is_better,
    rank_baselines,
)


def test_colormap_endpoints_and_monotone_luminance() -> None:
    rgb = apply_colormap(np.linspace(0, 1, 256))
    assert rgb.dtype == np.uint8 and rgb.shape == (256, 3)
    first = np.round(np.asarray(INFERNO[0][1:]) * 255)
    last = np.round(np.asarray(INFERNO[-1][1:]) * 255)
    np.testing.assert_array_equal(rgb[0], first)
    np.testing.assert_array_equal(rgb[-1], last)
    lum = relative_luminance(rgb)
    assert np.all(np.diff(lum) > 0), "luminance must increase with the value"
    assert lum[0] < 0.01 and lum[-1] > 0.9
    np.testing.assert_array_equal(apply_colormap(np.array([-3.0, np.nan, 7.0])), rgb[[0, 0, -1]])
    assert colormap_hex(2) == [
        "#{:02x}{:02x}{:02x}".format(*(int(v) for v in c)) for c in (first, last)
    ]


@pytest.mark.parametrize(
    ("shape", "spacing"),
    [((64, 64), (1.0, 1.0)), ((12, 40), (3.0, 1.0)), ((40, 12), (0.5, 2.0)), ((7, 9), (1.0, 1.0))],
)
def test_zoom_region_and_profile_line_lie_inside_the_image(shape, spacing) -> None:
    rng = np.random.default_rng(0)
    ref = rng.random(shape)
    err = rng.random(shape)
    fg = np.zeros(shape, bool)
    fg[1:-1, 1:-1] = True
    region = render.choose_region(ref, err, fg, spacing)
    assert 0 <= region.r0 and region.r0 + region.h <= shape[0]
    assert 0 <= region.c0 and region.c0 + region.w <= shape[1]
    assert region.r0 <= region.row < region.r0 + region.h
    side_mm = (region.h * spacing[0], region.w * spacing[1])
    if region.h < shape[0] and region.w < shape[1]:  # square in mm unless clipped by the image
        assert side_mm[0] == pytest.approx(side_mm[1], rel=0.35)


def test_zoom_region_finds_the_structure_inside_the_foreground() -> None:
    ref = np.zeros((80, 80))
    ref[10:70, 10:70] = 1.0  # the body: its outline is the strongest edge
    ref[45:52, 20:27] = 3.0  # a small structure inside
    fg = ref > 0.5
    region = render.choose_region(ref, np.zeros_like(ref), fg, (1.0, 1.0))
    assert region.r0 <= 45 and 52 <= region.r0 + region.h
    assert region.c0 <= 20 and 27 <= region.c0 + region.w
    assert fg[region.r0 : region.r0 + region.h, region.c0 : region.c0 + region.w].mean() > 0.95


def test_display_size_and_zoom_keep_the_physical_aspect() -> None:
    for shape, spacing in [
        ((12, 34), (3.0, 1.2)),
        ((256, 256), (0.5, 0.5)),
        ((90, 30), (1.0, 2.5)),
    ]:
        h, w = render.display_size(shape, spacing)
        assert h / w == pytest.approx(shape[0] * spacing[0] / (shape[1] * spacing[1]), rel=0.02)
        assert max(h, w) <= 360
    region = render.Region(0, 0, 4, 10)  # 12 mm x 12 mm at (3.0, 1.2) mm pixels
    reps = render.zoom_repeats(region, (3.0, 1.2))
    assert region.h * reps[0] / (region.w * reps[1]) == pytest.approx(1.0, rel=0.1)
    pixels = render.magnify(np.arange(6, dtype=np.uint8).reshape(2, 3), (2, 3))
    assert pixels.shape == (4, 9) and pixels[3, 8] == 5 and pixels[0, 2] == 0


def test_planes_show_superior_and_anterior_up() -> None:
    from tests.report._fixtures import canonical_affine

    vol = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    aff = canonical_affine((2.0, 1.0, 1.5))
    axial = render.make_plane("axial", 1, (2.0, 1.0, 1.5), aff)
    coronal = render.make_plane("coronal", 0, (2.0, 1.0, 1.5), aff)
    assert axial.spacing == (1.0, 1.5) and coronal.spacing == (2.0, 1.5)
    np.testing.assert_array_equal(render.take_plane(vol, axial), vol[1, ::-1, :])
    np.testing.assert_array_equal(render.take_plane(vol, coronal), vol[::-1, 0, :])
    flipped = aff.copy()
    flipped[:, 1] *= -1  # H towards posterior: rows already run from anterior down
    plane = render.make_plane("axial", 1, (2.0, 1.0, 1.5), flipped)
    np.testing.assert_array_equal(render.take_plane(vol, plane), vol[1])


def test_overlays_are_drawn_where_the_region_is() -> None:
    grey = np.zeros((80, 80), np.uint8)  # a 40 x 40 image shown at 2x
    region = render.Region(10, 20, 8, 8)
    out = render.draw_overlays(grey, (2.0, 2.0), region=region, line=(14, 20, 28))
    assert out.shape == (80, 80, 3)
    ys, xs = np.nonzero((out == render.ZOOM_COLOR).all(axis=2))
    assert ys.min() == 20 and xs.min() == 40
    ys, xs = np.nonzero((out == render.LINE_COLOR).all(axis=2))
    assert 28 <= ys.min() <= ys.max() <= 30 and 40 <= xs.min() <= 41 and xs.max() <= 55


def test_metric_direction_ranking_and_std_format() -> None:
    from medsr.metrics.aggregate import CaseResult

    assert higher_is_better("psnr") and higher_is_better("ssim")
    assert not higher_is_better("nrmse") and not higher_is_better("mae")
    rows = [
        CaseResult("c", "a", "p", {"psnr": 30.0, "nrmse": 0.2}),
        CaseResult("c", "b", "p", {"psnr": 31.0, "nrmse": 0.3}),
        CaseResult("c", "d", "p", {"psnr": 29.0, "nrmse": 0.1}),
    ]
    assert best_baseline(rows, "c", ["a", "b", "d"], "p", "psnr") == "b"
    assert best_baseline(rows, "c", ["a", "b", "d"], "p", "nrmse") == "d"
    assert rank_baselines(rows, "c", ["x", "a", "b", "d"], "p", "psnr") == ["b", "a", "d", "x"]
    assert best_baseline(rows, "c", ["x"], "p", "psnr") is None
    assert format_mean_std("psnr", 30.123, 1.0, 2) == "30.12 ± 1.00"
    assert format_mean_std("psnr", 30.123, 0.0, 1) == "30.12"
    assert format_delta("psnr", 0.3512, 25.8) == "+0.35"
    assert format_delta("psnr", -0.0004632, 25.8) == "−0.00"
    assert format_delta("ssim", 0.00021, 0.87) == "+0.0002"
    assert format_delta("nrmse", -0.01, 0.2173) == "−0.0100"
    assert format_delta("mae", 1.234, 10.9) == "+1.23"


def test_best_baseline_equal_to_the_input_adds_the_next_best(demo_src: Path) -> None:
    from medsr.report.figures import read_case_planes
    from medsr.report.sources import load_case

    case = load_case(demo_src / "cases" / "mr3d", "mr3d")
    cp, shown = read_case_planes(case, ["zero-filled", "cubic", "nearest"], {"cubic": "PSNR 1"})
    assert shown.best_is_input and shown.baseline == "cubic"
    roles = [layer.role for layer in cp.layers]
    assert roles == ["input", "baseline", "model", "reference"]
    assert cp.layers[0].best and not cp.layers[1].best
    assert cp.layers[1].label == "next best baseline: cubic"
    assert len(cp.planes) == 3 and all(len(x.planes) == 3 for x in cp.layers)


def _numbers(svg: str, tag: str, attr: str) -> list[float]:
    return [float(v) for v in re.findall(rf'<{tag}[^>]* {attr}="([-0-9.]+)"', svg)]


def test_line_chart_log_axis_and_reference_line() -> None:
    svg = line_chart(
        [Series("loss", [0, 1, 2, 3], [1.0, 0.1, 0.01, 0.005], "#123456")],
        title="t",
        xlabel="step",
        log_y=True,
        hlines=[HLine(0.05, "input")],
    )
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert ">0.01<" in svg and ">0.1<" in svg and ">1<" in svg
    assert 'stroke-dasharray="6 4"' in svg and ">input<" in svg
    assert "<path " in svg
    single = line_chart([Series("val", [200], [24.5], "#123456")], title="v", xlabel="step")
    assert ">200<" in single and ">199.8<" not in single and ">200.2<" not in single


def test_box_plot_draws_a_box_only_with_three_or_more_points() -> None:
    one = box_plot([BoxItem("m", [1.0], ["c1"], [True])], title="PSNR")
    assert "<circle" in one and 'fill="#ffffff"' in one  # a hollow (training-scan) point
    assert one.count("<rect") == 2  # background + plot frame, no box
    three = box_plot([BoxItem("m", [1.0, 2.0, 4.0], ["a", "b", "c"], [False] * 3)], title="PSNR")
    assert three.count("<rect") == 3 and three.count("<circle") == 3
    assert "c: 4" in three  # tooltips name the case


def test_colorbar_and_ticks() -> None:
    svg = colorbar(0.2, label="abs error", colors=colormap_hex(8), ident="cb1")
    assert "id=" not in svg and svg.count("<rect ") == 8 + 2  # segments, background, frame
    assert [">0<", ">0.05<", ">0.10<", ">0.20<"] == [
        t for t in (">0<", ">0.05<", ">0.10<", ">0.20<") if t in svg
    ]
    ticks = nice_ticks(0.83, 0.91)
    assert ticks[0] >= 0.83 and ticks[-1] <= 0.91 and len(ticks) >= 3
