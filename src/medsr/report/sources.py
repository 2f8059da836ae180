"""Reading what ``medsr demo``, ``medsr evaluate`` and ``medsr train`` wrote, with one-line errors.

Every problem becomes an :class:`~medsr.errors.InputError` that names the file and says what is
wrong; nothing here writes anything.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from medsr.errors import InputError
from medsr.metrics.aggregate import CaseResult, results_from_dict

Kind = Literal["demo", "evaluation", "training"]
TASKS = ("sr3d", "sr2d", "denoise2d")
SPLITS = ("train", "held-out")


def read_json_file(path: Path, what: str) -> Any:
    """Parse a JSON file, raising :class:`InputError` for a missing or invalid one."""
    if not path.is_file():
        raise InputError(path, f"missing {what}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(path, f"not a text file; expected {what} in JSON") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            path, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def detect_kind(src: Path) -> Kind:
    """Which kind of output folder ``src`` is.

    Raises:
        InputError: If ``src`` is not a folder or holds none of the known files.
    """
    if not src.exists():
        raise InputError(src, "no such folder")
    if not src.is_dir():
        raise InputError(
            src, "not a folder; pass the output folder of medsr demo, evaluate or train"
        )
    if (src / "run.json").is_file() or (src / "cases").is_dir():
        return "demo"
    if (src / "metrics.json").is_file():
        return "evaluation"
    if (src / "log.jsonl").is_file():
        return "training"
    raise InputError(
        src,
        "no run.json, metrics.json or log.jsonl; expected the output folder of "
        "medsr demo, medsr evaluate or medsr train",
    )


def load_metrics(path: Path) -> list[CaseResult]:
    """Per-case rows of a ``metrics.json`` file (:mod:`medsr.metrics.aggregate` layout)."""
    data = read_json_file(path, "metrics.json (write it with medsr evaluate)")
    if not isinstance(data, dict):
        raise InputError(path, "not a medsr results document: expected a JSON object")
    try:
        rows = results_from_dict(data)
    except ValueError as exc:
        raise InputError(path, str(exc)) from None
    if not rows:
        raise InputError(path, "holds no results (its 'cases' list is empty)")
    return rows


@dataclass(frozen=True)
class RunInfo:
    """The ``run.json`` header of a demo folder (all fields optional in the file)."""

    kind: str = ""
    version: str = ""
    seconds: float | None = None
    hardware: str = ""
    cases: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def load_run(path: Path) -> RunInfo:
    """Read ``run.json``; a missing file gives an empty header."""
    if not path.exists():
        return RunInfo()
    data = read_json_file(path, "run.json")
    if not isinstance(data, dict):
        raise InputError(path, "expected a JSON object")
    cases = data.get("cases", [])
    notes = data.get("notes", [])
    if not isinstance(cases, list) or not all(isinstance(c, str) for c in cases):
        raise InputError(path, "'cases' must be a list of case ids")
    if not isinstance(notes, list):
        raise InputError(path, "'notes' must be a list of strings")
    seconds = data.get("seconds")
    if seconds is not None and not isinstance(seconds, int | float):
        raise InputError(path, f"'seconds' must be a number, got {seconds!r}")
    return RunInfo(
        kind=str(data.get("kind", "")),
        version=str(data.get("medsr_version", "")),
        seconds=float(seconds) if seconds is not None else None,
        hardware=str(data.get("hardware", "")),
        cases=list(cases),
        notes=[str(n) for n in notes],
    )


@dataclass(frozen=True)
class CaseSpec:
    """One case of a demo folder, from its ``case.json``.

    Attributes:
        id: Case id (the metrics rows' ``case``).
        folder: The case folder.
        title: One-line description.
        scan: Catalogue name of the scan.
        task: ``"sr3d"``, ``"sr2d"`` or ``"denoise2d"``.
        modality: ``"MR"`` or ``"CT"``.
        unit: Intensity unit.
        split: ``"train"``, ``"held-out"`` or ``""`` (unknown).
        model: The model's method name (``""`` if none).
        baselines: Baseline method names.
        input_label: Label of the low-quality input panel.
        reference: Reference volume path.
        input: Low-quality input volume path (or None).
        methods: Method name -> volume path.
        display_window: Grey-level window, or None for a percentile window.
        primary_protocol: Protocol used to pick the best baseline.
        primary_metric: Metric used to pick the best baseline.
        data_consistency: ``{"before": x, "after": y}`` or None.
        training_log: The model's training log file, or None.
        models: Every bundled model run in the case, ``model`` first (``[model]`` when
            ``case.json`` has no ``models``).
        psnr_model: The content-loss (PSNR) partner of ``model`` run in the same case, or ``""``.
        data_consistency_models: ``data_consistency`` of each k-space model of the case, or None.
        gan_weight_curve: The case's ``gan_weight_curve.json``, or None.
    """

    id: str
    folder: Path
    title: str
    scan: str
    task: str
    modality: str
    unit: str
    split: str
    model: str
    baselines: list[str]
    input_label: str
    reference: Path
    input: Path | None
    methods: dict[str, Path]
    display_window: tuple[float, float] | None
    primary_protocol: str
    primary_metric: str
    data_consistency: dict[str, float] | None
    training_log: Path | None
    models: list[str] = field(default_factory=list)
    psnr_model: str = ""
    data_consistency_models: dict[str, dict[str, float]] | None = None
    gan_weight_curve: Path | None = None

    @property
    def model_rows(self) -> list[str]:
        """The bundled models' method names in table order: the others first, ``model`` last."""
        others = [m for m in self.models if m and m != self.model]
        return [*others, self.model] if self.model else others

    @property
    def is_2d(self) -> bool:
        """Whether the model worked on 2D axial slices, one at a time (tasks sr2d, denoise2d).

        The report still shows the three planes of such a volume; captions say which plane
        holds the model's slices.
        """
        return self.task in ("sr2d", "denoise2d")


def _str(path: Path, data: dict[str, Any], key: str, default: str = "") -> str:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InputError(path, f"'{key}' must be a string, got {value!r}")
    return value


def _file(path: Path, folder: Path, value: Any, key: str) -> Path:
    if not isinstance(value, str) or not value:
        raise InputError(path, f"'{key}' must be a file name relative to the case folder")
    return folder / value


def _consistency(path: Path, value: Any, key: str) -> dict[str, float]:
    if not isinstance(value, dict) or not all(
        isinstance(value.get(k), int | float) for k in ("before", "after")
    ):
        raise InputError(path, f'\'{key}\' must be null or {{"before": x, "after": y}}')
    return {"before": float(value["before"]), "after": float(value["after"])}


def _models(path: Path, data: dict[str, Any], model: str) -> list[str]:
    raw = data.get("models")
    if raw is None:
        return [model] if model else []
    if not isinstance(raw, list) or not all(isinstance(m, str) and m for m in raw):
        raise InputError(path, "'models' must be a list of model names")
    return list(dict.fromkeys([model, *raw] if model else raw))


def load_case(folder: Path, case_id: str) -> CaseSpec:
    """Read and check ``folder/case.json``.

    Raises:
        InputError: Naming ``case.json`` for a missing file, invalid JSON or a bad field.
    """
    path = folder / "case.json"
    data = read_json_file(path, f"case.json of case {case_id!r}")
    if not isinstance(data, dict):
        raise InputError(path, "expected a JSON object")
    files = data.get("files")
    if not isinstance(files, dict) or "reference" not in files:
        raise InputError(path, "'files' must be an object with at least 'reference'")
    methods_raw = files.get("methods", {}) or {}
    if not isinstance(methods_raw, dict):
        raise InputError(path, "'files.methods' must map method names to file names")
    methods = {str(k): _file(path, folder, v, f"files.methods.{k}") for k, v in methods_raw.items()}
    task = _str(path, data, "task", "sr3d")
    if task not in TASKS:
        raise InputError(path, f"'task' must be one of {', '.join(TASKS)}, got {task!r}")
    split = _str(path, data, "split")
    if split and split not in SPLITS:
        raise InputError(path, f"'split' must be 'train' or 'held-out', got {split!r}")
    baselines = data.get("baselines", []) or []
    if not isinstance(baselines, list) or not all(isinstance(b, str) for b in baselines):
        raise InputError(path, "'baselines' must be a list of method names")
    window = data.get("display_window")
    if window is not None:
        ok = (
            isinstance(window, list)
            and len(window) == 2
            and all(isinstance(v, int | float) and math.isfinite(v) for v in window)
            and window[1] > window[0]
        )
        if not ok:
            raise InputError(
                path, f"'display_window' must be [lo, hi] with lo < hi, got {window!r}"
            )
    dc = data.get("data_consistency")
    if dc is not None:
        dc = _consistency(path, dc, "data_consistency")
    dc_models = data.get("data_consistency_models")
    if dc_models is not None:
        if not isinstance(dc_models, dict):
            raise InputError(path, "'data_consistency_models' must map model names to errors")
        dc_models = {
            str(k): _consistency(path, v, f"data_consistency_models.{k}")
            for k, v in dc_models.items()
        }
    log = data.get("training_log")
    curve = data.get("gan_weight_curve")
    modality = _str(path, data, "modality", "MR")
    model = _str(path, data, "model")
    return CaseSpec(
        id=_str(path, data, "id", case_id) or case_id,
        folder=folder,
        title=_str(path, data, "title"),
        scan=_str(path, data, "scan"),
        task=task,
        modality=modality,
        unit=_str(path, data, "unit", "HU" if modality == "CT" else "a.u."),
        split=split,
        model=model,
        baselines=list(baselines),
        input_label=_str(path, data, "input_label", "low-quality input"),
        reference=_file(path, folder, files["reference"], "files.reference"),
        input=_file(path, folder, files["input"], "files.input") if files.get("input") else None,
        methods=methods,
        display_window=(float(window[0]), float(window[1])) if window is not None else None,
        primary_protocol=_str(path, data, "primary_protocol"),
        primary_metric=_str(path, data, "primary_metric", "psnr") or "psnr",
        data_consistency=dc,
        training_log=_file(path, folder, log, "training_log") if log else None,
        models=_models(path, data, model),
        psnr_model=_str(path, data, "psnr_model"),
        data_consistency_models=dc_models,
        gan_weight_curve=_file(path, folder, curve, "gan_weight_curve") if curve else None,
    )


def same_volume_file(a: Path, b: Path) -> bool:
    """Whether two volume files hold the same voxels and header (without decompressing them).

    Gzip files are compared by their trailers (CRC-32 and length of the uncompressed content),
    so the time stamps and file names in the gzip headers do not matter; other files byte by
    byte when their sizes agree.
    """
    try:
        if a.resolve() == b.resolve():
            return True
        with a.open("rb") as fa, b.open("rb") as fb:
            head_a, head_b = fa.read(2), fb.read(2)
            if head_a == head_b == b"\x1f\x8b":
                fa.seek(-8, 2)
                fb.seek(-8, 2)
                return fa.read(8) == fb.read(8)
            if a.stat().st_size != b.stat().st_size:
                return False
            return head_a + fa.read() == head_b + fb.read()
    except OSError:
        return False


def case_folders(src: Path, run: RunInfo) -> list[tuple[str, Path]]:
    """``(case_id, folder)`` of every case: ``run.json``'s order, else the sorted ``cases/*``."""
    if run.cases:
        return [(c, src / "cases" / c) for c in run.cases]
    root = src / "cases"
    if not root.is_dir():
        return []
    return [(p.name, p) for p in sorted(root.iterdir()) if (p / "case.json").is_file()]
