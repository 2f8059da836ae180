"""``medsr export CKPT --format onnx|torchscript -o FILE``: a deployable model with its metadata."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "export a checkpoint to ONNX or TorchScript (dynamic batch and spatial axes, checked)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``export`` arguments."""
    parser.add_argument("checkpoint", metavar="CKPT", help="medsr checkpoint")
    parser.add_argument(
        "--format", choices=("onnx", "torchscript"), default="onnx", help="default onnx"
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="output file (.onnx, .pt)"
    )
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    parser.add_argument(
        "--no-halo",
        action="store_true",
        help="skip measuring the receptive field (then --exact cannot use the export)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")


def run(args: argparse.Namespace) -> int:
    """Export, check on a second input size, write the model and its JSON sidecar."""
    from medsr.infer.engines import export_sidecar_path
    from medsr.infer.export import export_model
    from medsr.io.atomic import claim_outputs

    targets = [Path(args.output), export_sidecar_path(args.output)]
    with claim_outputs(targets, overwrite=args.overwrite):  # refused before the export runs
        record = export_model(
            args.checkpoint,
            args.output,
            format=args.format,
            overwrite=args.overwrite,
            opset=args.opset,
            halo=not args.no_halo,
        )
    err = record["check"]["max_relative_error"]
    print(
        f"wrote {args.output} ({args.format}; check on {record['check']['input_shape']}: {err:.2g})"
    )
    print(f"wrote {export_sidecar_path(args.output)}")
    return 0
