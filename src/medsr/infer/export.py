"""Export a medsr checkpoint to ONNX or TorchScript with dynamic batch and spatial axes.

The exported file is checked before it is kept: the original module and the exported model run
on a second input of a different spatial size, and their outputs must agree within ``rtol``
(relative to the output's largest magnitude). A JSON sidecar ``<file>.json`` carries what
``medsr enhance --engine onnxruntime`` needs: modality, scale, intensity normalisation,
receptive-field halo, and the checkpoint's path and sha256.

ONNX export uses the ``torch.export``-based exporter (``onnx`` and ``onnxscript`` packages);
ONNX Runtime is needed for the check. Install them with ``pip install 'medsr[onnx]'``.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from medsr._version import __version__
from medsr.artifact.checkpoint import load_checkpoint
from medsr.artifact.spec import ModelSpec, kspace_factor_from_config, sha256_file
from medsr.errors import ConfigError, MedsrError, MissingDependencyError
from medsr.infer.engines import EXPORT_FORMAT, export_sidecar_path
from medsr.infer.halo import exact_halo
from medsr.io.atomic import atomic_path
from medsr.io.sidecar import write_json_sidecar

ExportFormat = Literal["onnx", "torchscript"]
FORMATS: tuple[str, ...] = ("onnx", "torchscript")


def _probe_sizes(spec: ModelSpec) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Example input (export) and check input (a different size) for ``spec``'s network."""
    nd = spec.spatial_dims
    first = (1, spec.in_channels, *([16] * nd if nd == 3 else [32, 32]))
    second = (2, spec.in_channels, *([32, 16, 48][:nd] if nd == 3 else [48, 64]))
    return first, second


def _export_onnx(model: torch.nn.Module, example: torch.Tensor, path: Path, opset: int) -> None:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "ONNX export needs onnx and onnxscript: pip install 'medsr[onnx]'"
        ) from None
    nd = example.ndim - 2
    dims = {0: "batch", **{2 + i: f"size{i}" for i in range(nd)}}
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=True,
            external_data=False,  # one self-contained file: no weights beside the temp name
            dynamic_shapes=(dims,),
            input_names=["x"],
            output_names=["y"],
            opset_version=opset,
            verbose=False,
        )


def _run_onnx(path: Path, x: torch.Tensor) -> np.ndarray:
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingDependencyError(
            "checking an ONNX export needs onnxruntime: pip install 'medsr[onnx]'"
        ) from None
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])


def _export_torchscript(model: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jit deprecation and tracer warnings on shape checks
        traced = torch.jit.trace(model, example, check_trace=False)
        torch.jit.save(traced, str(path))


def _run_torchscript(path: Path, x: torch.Tensor) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = torch.jit.load(str(path), map_location="cpu")
    with torch.inference_mode():
        return loaded(x).numpy()


def export_model(
    checkpoint: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    format: ExportFormat = "onnx",
    overwrite: bool = False,
    opset: int = 18,
    rtol: float = 1e-4,
    halo: bool = True,
) -> dict[str, Any]:
    """Export ``checkpoint`` to ``output`` and write ``<output>.json``.

    Args:
        checkpoint: A medsr checkpoint.
        output: Destination file (``.onnx`` or ``.pt`` / ``.ts``).
        format: ``onnx`` or ``torchscript``.
        overwrite: Replace existing files.
        opset: ONNX opset version.
        rtol: Largest accepted ``max|exported - eager| / max|eager|`` on the check input.
        halo: Measure and record the receptive-field halo (for ``--exact`` with the export).

    Returns:
        The sidecar's content.

    Raises:
        InputError: Bad checkpoint.
        MedsrError: Output exists without ``overwrite``, or the export does not reproduce the
            model on an input of another size.
        MissingDependencyError: ONNX packages are missing.
    """

    if format not in FORMATS:
        raise ConfigError(f"unknown export format {format!r}; use one of {FORMATS}")
    out = Path(output)
    side = export_sidecar_path(out)
    if not overwrite:
        for p in (out, side):
            if os.path.lexists(p):
                raise MedsrError(f"{p}: already exists; pass --overwrite to replace it")
    ckpt = load_checkpoint(checkpoint)
    model = ckpt.build_model()
    spec = ModelSpec.from_checkpoint(ckpt)
    measured: tuple[int, ...] | None = None
    if halo:
        with contextlib.suppress(MedsrError):
            measured = exact_halo(
                model, spatial_dims=spec.spatial_dims, in_channels=spec.in_channels,
                scale=spec.net_scale,
            )  # fmt: skip
    source = {
        "checkpoint": str(Path(checkpoint).resolve()),
        "sha256": sha256_file(checkpoint),
        "medsr_version": ckpt.medsr_version,
        "torch_version": ckpt.torch_version,
        "kspace_factor": kspace_factor_from_config(ckpt.config or {}),
    }
    from dataclasses import replace

    spec = replace(spec, halo=measured, source=source)
    first, second = _probe_sizes(spec)
    gen = torch.Generator().manual_seed(0)
    example = torch.rand(first, generator=gen)
    check = torch.rand(second, generator=gen)
    with torch.inference_mode():
        expected = model(check).numpy()
    with (
        atomic_path(out, overwrite=overwrite) as tmp,
        atomic_path(side, overwrite=overwrite) as tside,
    ):
        if format == "onnx":
            _export_onnx(model, example, tmp, opset)
            got = _run_onnx(tmp, check)
        else:
            _export_torchscript(model, example, tmp)
            got = _run_torchscript(tmp, check)
        scale = float(np.abs(expected).max()) or 1.0
        err = float(np.abs(got - expected).max()) / scale if got.shape == expected.shape else np.inf
        if not err <= rtol:
            raise MedsrError(
                f"{out}: the {format} export does not reproduce the model on a {second[2:]} input "
                f"(relative error {err:.3g} > {rtol:g}); the model may not support dynamic shapes"
            )
        record = {
            "format": EXPORT_FORMAT,
            "format_version": 1,
            "engine": format,
            "medsr_version": __version__,
            "torch_version": str(torch.__version__),
            "opset": opset if format == "onnx" else None,
            "input": {"name": "x", "layout": "(batch, C, *spatial)", "dynamic": "batch, spatial"},
            "check": {"input_shape": list(second), "max_relative_error": err},
            "spec": spec.to_dict(),
        }
        write_json_sidecar(tside, record, overwrite=True)
    return record
