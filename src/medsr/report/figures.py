"""Per-case figures: image panels, error maps, zooms and line profiles for each plane.

Each volume of a case is read once; only the planes shown are kept. For every plane the
report shows low-quality input | best baseline | model | reference, then the absolute errors
of the best baseline and the model on one colour scale shared by the whole case, a second row
with the same region of every panel magnified (nearest neighbour), and a line profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medsr.errors import InputError
from medsr.io import read_volume
from medsr.report import render
from medsr.report.colormap import colormap_hex
from medsr.report.doc import PNG, SVG, Asset, Block, Charts, Panel, PanelGrid, Text
from medsr.report.render import PLANE_AXES
from medsr.report.sources import CaseSpec, same_volume_file
from medsr.report.svg import Series, colorbar, line_chart
from medsr.volume import Volume

#: Line colours of the profile chart.
PROFILE_COLORS = {
    "reference": "#111111",
    "input": "#8a8a8a",
    "baseline": "#1f5fa8",
    "model": "#d9480f",
}


@dataclass
class Layer:
    """One image of a case: role (input / baseline / model / reference), label and its planes."""

    role: str
    label: str
    sublabel: str
    planes: list[np.ndarray] = field(default_factory=list)
    best: bool = False
    short: str = ""
    method: str = ""


@dataclass
class CasePlanes:
    """The planes of every layer of a case, their geometry and the grey window.

    Attributes:
        planes: The planes shown.
        layers: The images (input, baseline, model, reference), each with one image per plane.
        window: Grey window.
        unit: Intensity unit.
        modality: ``"MR"``, ``"CT"``...
        shape: The reference's ``(D, H, W)`` shape.
        slice_model: Whether the model worked on 2D axial slices (tasks sr2d, denoise2d).
    """

    planes: list[render.Plane]
    layers: list[Layer]
    window: tuple[float, float]
    unit: str
    modality: str
    shape: tuple[int, int, int] = (1, 1, 1)
    slice_model: bool = False

    def layer(self, role: str) -> Layer | None:
        """The layer with ``role``, if the case has it."""
        return next((x for x in self.layers if x.role == role), None)


def slug(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._") or "case"


def _read(path: Path, modality: str) -> tuple[np.ndarray, Volume]:

    vol = read_volume(path, modality=modality if modality in ("MR", "CT", "XR") else None)
    if vol.channels != 1:
        raise InputError(
            path, f"has {vol.channels} channels; the report shows single-channel volumes"
        )
    return np.asarray(vol.array[0]), vol


def _centre(ref: np.ndarray, window: tuple[float, float], modality: str) -> tuple[int, int, int]:
    """Foreground centroid of a ``(D, H, W)`` volume (the grid centre if there is no foreground)."""
    step = max(1, round((ref.size / 2e6) ** (1 / 3)))
    sub = ref[::step, ::step, ::step]
    fg = render.foreground(sub, window, modality)
    if not fg.any():
        return tuple(n // 2 for n in ref.shape)  # type: ignore[return-value]
    idx = np.nonzero(fg)
    return tuple(  # type: ignore[return-value]
        int(min(n - 1, round(float(np.mean(i)) * step))) for i, n in zip(idx, ref.shape)
    )


def auto_window(ref: np.ndarray) -> tuple[float, float]:
    """A grey window from the 0.5th and 99.5th percentiles of (a subsample of) ``ref``."""
    flat = ref.ravel()
    sub = flat[:: max(1, flat.size // 500_000)]
    lo, hi = (float(v) for v in np.percentile(sub, [0.5, 99.5]))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def transposed_axis(shape: tuple[int, ...]) -> int | None:
    """The singleton in-plane axis (1 = H, 2 = W) of an image stored transposed, else None.

    A single 2D image normally has ``D == 1`` (one axial slice, ``H x W``). When ``D`` holds
    more than one voxel but ``H`` or ``W`` holds one, the image's plane lies across that
    singleton axis instead.
    """
    if shape[0] > 1:
        for axis in (1, 2):
            if shape[axis] == 1:
                return axis
    return None


def choose_planes(
    shape: tuple[int, int, int], centre: tuple[int, int, int]
) -> list[tuple[str, int]]:
    """``(plane name, index)`` pairs to show for a reference of ``(D, H, W)`` ``shape``.

    * A real volume (every axis longer than one voxel): the axial (fixed ``D``), coronal
      (fixed ``H``) and sagittal (fixed ``W``) planes through ``centre``, whatever the task;
      a 2D model worked on the axial slices, the other two planes cut across them.
    * A single 2D image (``D == 1``): its one axial plane (``H x W``).
    * An image stored transposed (``D > 1`` but ``H`` or ``W == 1``): the one plane across
      the singleton axis.
    """
    names = list(PLANE_AXES)
    axis = transposed_axis(shape)
    if axis is not None:
        return [(names[axis], 0)]
    if shape[0] == 1:
        return [("axial", 0)]
    return [(name, centre[a]) for name, a in PLANE_AXES.items()]


@dataclass(frozen=True)
class Shown:
    """Which baseline the panels show and whether the best baseline is the input itself."""

    baseline: str | None
    best_is_input: bool


def read_case_planes(
    case: CaseSpec, ranked: list[str], labels: dict[str, str], *, scored: bool = True
) -> tuple[CasePlanes, Shown]:
    """Read the reference, input, best baseline and model of ``case``; keep the shown planes.

    When the best baseline is the low-quality input itself (same file or same pixels, e.g.
    zero-filled k-space), the input panel stands for it and the next baseline in ``ranked``
    that differs from the input is shown as well.

    Args:
        case: The case.
        ranked: Baselines with a volume, best first.
        labels: Sub-labels (e.g. the primary metric) per method name; ``"@input"`` for the input.
        scored: Whether ``ranked`` is ordered by metrics (else the first is just "baseline").

    Raises:
        InputError: For an unreadable volume or one not on the reference grid.
    """
    ref_arr, ref_vol = _read(case.reference, case.modality)
    window = case.display_window or auto_window(ref_arr)
    volume = min(ref_arr.shape) > 1
    centre = _centre(ref_arr, window, case.modality) if volume else (0, 0, 0)
    planes = [
        render.make_plane(n, i, ref_vol.spacing, ref_vol.affine)
        for n, i in choose_planes(ref_arr.shape, centre)
    ]

    def load(path: Path) -> list[np.ndarray]:
        arr, _ = _read(path, case.modality)
        if arr.shape != ref_arr.shape:
            raise InputError(
                path,
                f"shape {arr.shape} differs from the reference's {ref_arr.shape}; "
                "all volumes of a case must be on the reference grid",
            )
        return [render.take_plane(arr, p) for p in planes]

    layers: list[Layer] = []
    inp = None
    if case.input is not None:
        inp = Layer(
            "input", case.input_label, labels.get("@input", ""), load(case.input), short="input"
        )
        layers.append(inp)
    shown, best_is_input = None, False
    for i, name in enumerate(ranked):
        path = case.methods[name]
        same_file = case.input is not None and same_volume_file(path, case.input)
        imgs = inp.planes if same_file and inp is not None else load(path)
        if inp is not None and all(np.array_equal(a, b) for a, b in zip(imgs, inp.planes)):
            if i == 0 and scored:
                best_is_input = inp.best = True
                inp.short = f"input = {name}"
                inp.method = name
                inp.sublabel = " · ".join(
                    x for x in (f"= best baseline {name}", labels.get(name)) if x
                )
            continue
        role_label = "next best baseline" if best_is_input else "best baseline"
        if not scored:
            role_label = "baseline"
        layers.append(
            Layer(
                "baseline",
                f"{role_label}: {name}",
                labels.get(name, ""),
                imgs,
                best=not best_is_input,
                short=f"{name} ({role_label})",
                method=name,
            )
        )
        shown = name
        break
    if case.model and case.model in case.methods:
        layers.append(
            Layer(
                "model",
                f"model: {case.model}",
                labels.get(case.model, ""),
                load(case.methods[case.model]),
                short=f"{case.model} (model)",
                method=case.model,
            )
        )
    layers.append(
        Layer(
            "reference",
            "reference",
            "",
            [render.take_plane(ref_arr, p) for p in planes],
            short="reference",
        )
    )
    cp = CasePlanes(
        planes=planes,
        layers=layers,
        window=window,
        unit=case.unit,
        modality=case.modality,
        shape=(int(ref_arr.shape[0]), int(ref_arr.shape[1]), int(ref_arr.shape[2])),
        slice_model=case.is_2d,
    )
    return cp, Shown(shown, best_is_input)


def error_layers(cp: CasePlanes) -> list[Layer]:
    """The layers whose error maps are shown: the best baseline (possibly the input) and the model."""
    return [x for x in cp.layers if x.best] + [x for x in cp.layers if x.role == "model"]


def error_vmax(cp: CasePlanes) -> float:
    """Shared error scale: 99.5th percentile of the shown errors inside the foreground.

    The errors are measured on images clipped to the grey window, so that the scale follows
    what the panels show (bone far outside a CT soft-tissue window would otherwise set it).
    When nothing differs inside the window (e.g. planes all outside it), the unclipped errors
    set the scale instead, so that the error maps do not all saturate.
    """
    ref = cp.layer("reference")
    assert ref is not None
    lo, hi = cp.window
    seen, raw = [], []
    for layer in error_layers(cp):
        for img, r in zip(layer.planes, ref.planes):
            fg = render.foreground(r, cp.window, cp.modality)
            pick = fg if fg.any() else np.ones_like(fg)
            seen.append(np.abs(np.clip(img, lo, hi) - np.clip(r, lo, hi))[pick])
            raw.append(np.abs(img - r)[pick])
    if not seen:
        return 1.0
    for chunks in (seen, raw):
        values = np.nan_to_num(np.concatenate(chunks))
        v = float(np.percentile(values, 99.5))
        if v > 0:
            return v
        if values.max() > 0:
            return float(values.max())
    return 1e-6


def _asset(name: str, pixels: np.ndarray) -> Asset:
    return Asset(name, render.png_bytes(pixels), PNG, int(pixels.shape[1]), int(pixels.shape[0]))


def plane_blocks(cp: CasePlanes, k: int, prefix: str, vmax: float, cbar: Asset) -> list[Block]:
    """Panel grid (full row + zoom row) and the profile chart of plane ``k``."""
    plane = cp.planes[k]
    ref_layer = cp.layer("reference")
    assert ref_layer is not None
    ref = ref_layer.planes[k]
    fg = render.foreground(ref, cp.window, cp.modality)
    errors = [(layer, np.abs(layer.planes[k] - ref)) for layer in error_layers(cp)]
    lo, hi = cp.window
    ref_seen = np.clip(ref, lo, hi)  # score what the panels show: bone outside a CT window is flat
    seen_err = sum(
        (np.abs(np.clip(layer.planes[k], lo, hi) - ref_seen) for layer, _ in errors),
        np.zeros_like(ref),
    )
    region = render.choose_region(ref_seen, seen_err, fg, plane.spacing)
    size = render.display_size(ref.shape, plane.spacing)
    scale = (size[0] / ref.shape[0], size[1] / ref.shape[1])
    reps = render.zoom_repeats(region, plane.spacing)
    line = (region.row, region.c0, region.c0 + region.w)
    zline = (region.row - region.r0, 0, region.w)
    full: list[Panel] = []
    zoom: list[Panel] = []
    tag = f"{prefix}_{plane.name}"
    for layer in cp.layers:
        grey = render.window_to_uint8(layer.planes[k], cp.window)
        is_ref = layer.role == "reference"
        big = render.draw_overlays(
            render.resize(grey, size), scale, region=region, line=line if is_ref else None
        )
        small = render.magnify(render.crop(grey, region), reps)
        if is_ref:
            small = render.draw_overlays(small, (reps[0], reps[1]), line=zline)
        full.append(Panel(layer.label, _asset(f"{tag}_{layer.role}.png", big), layer.sublabel))
        zoom.append(Panel("", _asset(f"{tag}_{layer.role}_zoom.png", small), pixelated=True))
    for layer, err in errors:
        rgb = render.error_to_rgb(err, vmax)
        big = render.draw_overlays(render.resize(rgb, size), scale, region=region)
        small = render.magnify(render.crop(rgb, region), reps)
        name = layer.method or layer.role
        full.append(Panel(f"|{name} − reference|", _asset(f"{tag}_{layer.role}_error.png", big)))
        zoom.append(Panel("", _asset(f"{tag}_{layer.role}_error_zoom.png", small), pixelated=True))
    grid = PanelGrid(
        columns=len(full),
        rows=[full, zoom],
        caption=(
            f"{plane.name.capitalize()} plane, slice {plane.index} "
            f"({plane.spacing[0]:g} × {plane.spacing[1]:g} mm pixels, shown at their physical aspect). "
            f"{_slice_note(cp, plane)}"
            f"Second row: the region outlined in cyan, magnified ({reps[0]}×{reps[1]} nearest neighbour). "
            f"Magenta on the reference: the line of the profile. Grey window "
            f"[{cp.window[0]:g}, {cp.window[1]:g}] {cp.unit.rstrip('.')}."
        ),
    )
    profile = _profile_chart(cp, k, line, f"{tag}_profile.svg")
    return [grid, Charts([profile, cbar])]


def _slice_note(cp: CasePlanes, plane: render.Plane) -> str:
    """For a 2D model run on a volume: how this plane relates to the slices it worked on."""
    if not cp.slice_model or len(cp.planes) < 2:
        return ""
    if plane.axis == 0:
        return "The 2D model worked on these axial slices, one at a time. "
    return (
        "The 2D model worked on the axial slices, one at a time; this plane cuts across them, "
        "so inconsistencies between neighbouring slices would show here as horizontal streaks. "
    )


def _profile_chart(cp: CasePlanes, k: int, line: tuple[int, int, int], name: str) -> Asset:
    plane = cp.planes[k]
    row, c0, c1 = line
    x = (np.arange(c0, c1) - c0) * plane.spacing[1]
    order = ("reference", "input", "baseline", "model")
    series = []
    for role in order:
        layer = cp.layer(role)
        if layer is None:
            continue
        series.append(
            Series(
                layer.short or layer.label,
                x,
                layer.planes[k][row, c0:c1],
                PROFILE_COLORS[role],
                dash="4 3" if role == "input" else "",
                width=2.2 if role == "reference" else 1.6,
            )
        )
    svg = line_chart(
        series,
        title=f"Line profile, {plane.name} plane, row {row}",
        xlabel="position along the magenta line (mm)",
        ylabel=f"intensity ({cp.unit})",
        width=640,
        height=290,
        ident=name.replace(".", "-"),
    )
    return Asset(name, svg.encode("utf-8"), SVG, 640, 290)


def case_figure_blocks(case: CaseSpec, cp: CasePlanes, prefix: str) -> list[Block]:
    """All figure blocks of a case: one panel grid and profile per plane, one shared colour bar."""
    vmax = error_vmax(cp)
    label = f"absolute error ({cp.unit}), shared by every error panel of this case"
    cbar = Asset(
        f"{prefix}_colorbar.svg",
        colorbar(
            vmax, label=label, colors=colormap_hex(64), width=360, ident=f"{prefix}-cbar"
        ).encode("utf-8"),
        SVG,
        360,
        58,
    )
    blocks: list[Block] = []
    if cp.layer("model") is None:
        blocks.append(Text("No model volume in case.json: the model column is left out.", "note"))
    axis = transposed_axis(cp.shape)
    if axis is not None:
        d, h, w = cp.shape
        blocks.append(
            Text(
                f"The reference is a single image stored transposed: shape (D, H, W) = "
                f"({d}, {h}, {w}), one voxel along {'DHW'[axis]} but {d} along D, the axis "
                f"that normally holds the slices. It is shown as its one {cp.planes[0].name} "
                "plane, as the files' geometry says. If it looks rotated, the writer lost the "
                "image's orientation (e.g. an identity affine reoriented when the NIfTI file "
                "was read).",
                "note",
            )
        )
    for k in range(len(cp.planes)):
        blocks.extend(plane_blocks(cp, k, prefix, vmax, cbar))
    return blocks
