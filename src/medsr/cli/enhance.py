"""``medsr enhance INPUT... --model CKPT -o OUT``: apply a trained model to whole scans."""

from __future__ import annotations

import argparse
import contextlib

from medsr.cli._args import add_slice_tolerance

HELP = "enhance scans (NIfTI, DICOM, PNG/JPG, NPY; folders) with a trained model, geometry kept"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``enhance`` arguments."""
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="scan files, DICOM series folders, or folders of scans",
    )
    parser.add_argument(
        "--model",
        required=True,
        metavar="CKPT",
        help="medsr checkpoint, .onnx export, or bundled model name (see `medsr models`)",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output file (.nii.gz, .nii, .npy, .png); a folder for several scans or --dicom-out",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar (one shows on stderr over the model's windows when it is a terminal)",
    )
    parser.add_argument(
        "--gan-weight",
        type=float,
        metavar="A",
        help="perception-distortion control for a GAN model: blend its weights with its PSNR "
        "model's, 0 (PSNR model) .. 1 (GAN model as trained)",
    )
    parser.add_argument(
        "--engine",
        choices=("torch", "onnxruntime"),
        default="torch",
        help="runtime (default torch)",
    )
    parser.add_argument(
        "--axis",
        type=int,
        choices=(0, 1, 2),
        help="slice axis for a 2D model on a volume: 0 D (axial), 1 H (coronal), 2 W (sagittal); "
        "default: the acquired plane (a DICOM series' slice normal, else the coarsest axis)",
    )
    g = parser.add_argument_group("sliding window")
    g.add_argument(
        "--window",
        nargs="+",
        type=int,
        metavar="N",
        help="window (core with --exact) in input voxels, 1 value or 1 per model axis",
    )
    g.add_argument(
        "--overlap", type=float, default=0.25, help="blended mode window overlap (default 0.25)"
    )
    g.add_argument(
        "--blend",
        choices=("gaussian", "hann", "constant"),
        default="gaussian",
        help="blended mode weights (default gaussian)",
    )
    g.add_argument(
        "--exact",
        action="store_true",
        help="halo from the receptive field: equals one full-volume pass (no seams)",
    )
    g.add_argument("--batch-size", type=int, default=4, help="windows per network call")
    g.add_argument(
        "--accumulate",
        choices=("float64", "float32"),
        default="float64",
        help="blended accumulator precision (float32 halves its memory)",
    )
    g = parser.add_argument_group("device and precision")
    g.add_argument("--device", help="cpu (default), cuda, cuda:1, ...")
    g.add_argument("--bf16", action="store_true", help="run the network in bfloat16 (autocast)")
    g = parser.add_argument_group("checks and MRI data consistency")
    g.add_argument(
        "--modality",
        choices=("MR", "CT", "XR"),
        help="the input's modality where the file does not record it (NIfTI, NPY, PNG)",
    )
    g.add_argument(
        "--force", action="store_true", help="run even if the input modality differs (warning)"
    )
    add_slice_tolerance(g)
    g.add_argument(
        "--self-ensemble",
        action="store_true",
        help="average the outputs for every flip of the input along the model's axes (8 in 3D, "
        "4 in 2D; EDSR+): slower by that factor, usually a little more accurate",
    )
    g.add_argument(
        "--data-consistency",
        action="store_true",
        help="replace the measured central k-space of the output by the input's",
    )
    g.add_argument(
        "--kspace-factor",
        nargs="+",
        type=float,
        metavar="F",
        help="k-space truncation of a same-grid input (1 or 3 values, D H W) for consistency",
    )
    g = parser.add_argument_group(
        "per-scan adaptation (MRI k-space and super-resolution models, torch engine)"
    )
    g.add_argument(
        "--adapt",
        type=int,
        default=0,
        metavar="N",
        help="fine-tune a copy of the model for at most N steps on pairs made from each input "
        "with the model's own degradation one step coarser (ZSSR), with early stopping on a "
        "held-out part of the pair; 0 (default) off. The weights on disk are not changed",
    )
    g.add_argument(
        "--adapt-lr",
        type=float,
        default=None,
        metavar="LR",
        help="Adam learning rate (default: 1e-5)",
    )
    g.add_argument(
        "--adapt-loss",
        choices=("auto", "l1", "mse"),
        default="auto",
        help="content loss of the adaptation steps and of its early stopping (default auto: "
        "the model's own content term, L1 when its checkpoint records none)",
    )
    g.add_argument("--seed", type=int, default=0, help="seed of every adaptation draw (0)")
    g.add_argument("--threads", type=int, default=2, help="CPU threads while adapting (default 2)")
    g.add_argument(
        "--save-adapted",
        metavar="PATH",
        help="write the adapted model as a medsr checkpoint with its provenance (one input)",
    )
    parser.add_argument(
        "--dicom-out",
        action="store_true",
        help="write a DICOM series folder (new UIDs, updated spacing) instead of a file",
    )


def _one_or_tuple(values: list[int] | list[float] | None) -> object:
    if values is None:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def _check_numbers(args: argparse.Namespace) -> None:
    """Refuse numeric options out of range before anything is read (the message names them)."""
    import math

    from medsr.errors import ConfigError

    if args.window is not None and (len(args.window) not in (1, 2, 3) or min(args.window) < 1):
        raise ConfigError(
            f"--window takes 1 value or 1 per model axis, each >= 1, got {args.window}"
        )
    if not 0.0 <= args.overlap < 1.0:
        raise ConfigError(f"--overlap must be in [0, 1), got {args.overlap}")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    if args.adapt_lr is not None and not (math.isfinite(args.adapt_lr) and args.adapt_lr > 0):
        raise ConfigError(f"--adapt-lr must be a positive number, got {args.adapt_lr}")
    if args.kspace_factor is not None and (
        len(args.kspace_factor) not in (1, 3) or not all(f >= 1 for f in args.kspace_factor)
    ):
        raise ConfigError(
            f"--kspace-factor takes 1 or 3 factors (D H W), each >= 1, got {args.kspace_factor}"
        )


def run(args: argparse.Namespace) -> int:
    """Enhance every input and print where the outputs went."""
    from medsr.infer.enhance import EnhanceOptions, enhance_files

    _check_numbers(args)
    options = EnhanceOptions(
        engine=args.engine,
        axis=args.axis,
        window=_one_or_tuple(args.window),  # type: ignore[arg-type]
        overlap=args.overlap,
        blend=args.blend,
        exact=args.exact,
        batch_size=args.batch_size,
        device=args.device,
        bf16=args.bf16,
        accumulate=args.accumulate,
        data_consistency=args.data_consistency,
        kspace_factor=_one_or_tuple(args.kspace_factor),  # type: ignore[arg-type]
        force=args.force,
        dicom_out=args.dicom_out,
        modality=args.modality,
        slice_tolerance=args.slice_tolerance,
        overwrite=args.overwrite,
        gan_weight=args.gan_weight,
        self_ensemble=args.self_ensemble,
        adapt=args.adapt,
        adapt_lr=args.adapt_lr,
        adapt_loss=args.adapt_loss,
        seed=args.seed,
        threads=args.threads,
        save_adapted=args.save_adapted,
    )
    from medsr.cli._progress import progress_bars
    from medsr.nn.sliding_window import window_progress

    with progress_bars("enhance", "window", enabled=not args.quiet) as report:
        with window_progress(report) if report is not None else contextlib.nullcontext():
            records = enhance_files(
                args.inputs, model=args.model, output=args.output, options=options
            )
    for rec in records:
        spacing = tuple(round(s, 6) for s in rec["output_spacing"])
        print(
            f"wrote {rec['output']} {tuple(rec['output_shape'])} spacing {spacing} mm "
            "(D, H, W order)"
        )
        plane = rec.get("plane")
        if plane:
            print(
                f"  2D model on {plane['plane']} slices (axis {plane['axis']}, "
                f"{'DHW'[plane['axis']]}; {plane['source']})"
            )
        for note in rec["warnings"]:
            print(f"warning: {rec['input']}: {note}")
        ad = rec.get("adaptation")
        if ad:
            kept = f"best step {ad['best_step']}" if ad["improved"] else "original weights kept"
            print(
                f"adapted: {ad['steps_run']} steps ({ad['stop_reason']}), {kept}, "
                f"self-supervised {ad['options']['loss'].upper()} "
                f"{ad['val_loss_start']:.4g} -> {ad['val_loss_best']:.4g}"
                + (f"; saved {ad['saved']}" if ad.get("saved") else "")
            )
        dc = rec.get("data_consistency")
        if dc:
            print(
                "data consistency: relative error "
                f"{dc['relative_error_before']:.3g} -> {dc['relative_error_after']:.3g}"
            )
    return 0
