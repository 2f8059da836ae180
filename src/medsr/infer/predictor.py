"""Apply a model to a whole :class:`~medsr.data.Volume`: normalise, tile, run, undo, regrid.

:class:`Predictor` takes any engine's network (a :class:`torch.nn.Module`, or a callable mapping a
CPU tensor batch to a tensor batch, such as an ONNX Runtime session wrapper) and a
:class:`~medsr.artifact.spec.ModelSpec`. It

1. checks the input (a 3D model on a 2D image is refused; a modality that differs from the
   model's is refused, or only warned about with ``force=True``);
2. applies the checkpoint's :class:`~medsr.data.intensity.IntensityNorm` (HU window, percentile,
   min-max);
3. runs the network through :func:`~medsr.nn.sliding_window.sliding_window_inference`,
   blended or exact (halo from the measured receptive field); a 2D model runs slice by slice
   along ``axis``, slices batched together;
4. undoes the normalisation in place (the output has the input's units) and returns a volume on
   the refined grid via :meth:`Volume.regrid` (spacing divided by the scale, outer edges of the
   field of view kept).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import nn

from medsr.artifact.spec import ModelSpec
from medsr.data.intensity import IntensityNorm
from medsr.errors import ConfigError, InputError
from medsr.infer.optimize import run_measuring_activations
from medsr.nn.inference import splits_cpu_batches
from medsr.nn.sliding_window import Blend, balanced_windows, sliding_window_inference
from medsr.volume import Volume

Net = Callable[[torch.Tensor], torch.Tensor]


#: Fewest voxels along each axis a network runs along (a 3D model: D, H and W; a 2D model: the
#: two axes of its slices). Below it the input has fewer spatial dimensions than the model needs.
MIN_MODEL_AXIS = 2
#: Default window edge of a 3D model (input voxels).
WINDOW_3D = 64
#: Largest default window edge of a 2D model in blended mode (balanced windows up to this size).
WINDOW_2D = 256
#: The 2D window the default overlap fraction refers to (and the exact-mode 2D window).
OVERLAP_BASE_2D = 128


class ModalityWarning(UserWarning):
    """The input's modality differs from the model's and ``force=True`` let it through."""


def known_modality(volume: Volume) -> str | None:
    """The volume's modality when its file records one (DICOM, InVesalius, fastMRI, paired-CT
    arrays, or set by the caller in ``meta["modality_given"]``); None for formats that carry none
    (NIfTI, plain NPY, PNG)."""
    meta = volume.meta
    if meta.get("modality_given") or "Modality" in meta:
        return volume.modality
    readers = ("inv3", "paired_ct", "dicom", "dicom_series", "dicom_zip", "fastmri_hdf5")
    if str(meta.get("reader", "")) in readers or meta.get("key") in ("f_nd", "f_qd"):
        return volume.modality
    return None


def _inverse_inplace(norm: IntensityNorm, y: np.ndarray, state: dict[str, float]) -> np.ndarray:
    """``norm.inverse`` without extra output-sized copies (every recorded mapping is affine)."""
    probe = norm.inverse(np.array([0.0, 1.0, 2.0], dtype=np.float32), state).astype(np.float64)
    b, a = probe[0], probe[1] - probe[0]
    if not np.isclose(probe[2], b + 2 * a, rtol=1e-6, atol=1e-6 * max(1.0, abs(a))):
        return norm.inverse(y, state)  # not affine: fall back to the general path
    np.multiply(y, np.float32(a), out=y)
    np.add(y, np.float32(b), out=y)
    return y


class Predictor:
    """Whole-volume inference with a recorded model.

    Args:
        net: The network (module or callable on ``(B, C, *window)`` tensors).
        spec: What the model is (dims, scale, modality, normalisation, halo).
        window: Window size in input voxels per network axis (one int or one per axis); in exact
            mode the core size. Clipped to the volume. Default: 64 (3D); 2D: balanced windows of
            at most 256^2 pixels (:meth:`_balanced_2d`; 128 in exact mode).
        overlap: Blended mode: fraction of the window shared by neighbours (one, or one per
            model axis; see :func:`~medsr.nn.sliding_window.balanced_windows`).
        blend: Blended mode: ``gaussian``, ``hann`` or ``constant``.
        batch_size: Windows per network call.
        exact: Exact mode: each window carries a halo at least as wide as the receptive field and
            only its core is kept; the result equals one full pass.
        halo: Halo override (default: ``spec.halo``, else measured from the module).
        axis: Slice axis of the volume (0 D, 1 H, 2 W) for a 2D model.
        device: Where the network runs; accumulation stays on the CPU.
        amp_dtype: ``torch.bfloat16`` / ``torch.float16`` to run under autocast.
        accumulate_dtype: Blended accumulator dtype: float64 (exact identity) or float32
            (half the accumulator memory).
        channels_last: Run in channels-last memory format; ``None``: for modules on the CPU.
        cpu_chunk_bytes: On the CPU a module runs the windows of a call in sub-batches whose
            largest activation fits in this many bytes (``None``: half the L3 cache, see
            :func:`~medsr.infer.optimize.cpu_cache_budget`; 0: never split). Results do not
            change; a 3D SRResNet ran 18 % faster in pairs than in fours.
        fold_bn: Fold ``conv -> batch norm`` pairs of a module into the convolutions (a copy is
            rewritten, and put in its model's inference form; see
            :func:`~medsr.infer.optimize.prepare_for_inference`).
        compile: Run a module through :func:`torch.compile` (slow start, faster windows).
        self_ensemble: Geometric self-ensemble (Lim et al., EDSR+, CVPRW 2017; Timofte et al.,
            CVPR 2016): run the network on every flip of the input along its own axes (8 in 3D,
            4 in 2D), flip each output back and average. Flips change no voxel size and no
            k-space support, so every model's degradation is unchanged by them; the cost is 8x
            (4x) the network time.

    Raises:
        ConfigError: For bad options (exact mode with an engine whose halo is unknown, ...).
    """

    def __init__(
        self,
        net: Net,
        *,
        spec: ModelSpec,
        window: int | Sequence[int] | None = None,
        overlap: float | Sequence[float] = 0.25,
        blend: Blend = "gaussian",
        batch_size: int = 4,
        exact: bool = False,
        halo: int | Sequence[int] | None = None,
        axis: int = 0,
        device: str | torch.device | None = None,
        amp_dtype: torch.dtype | None = None,
        accumulate_dtype: torch.dtype = torch.float64,
        channels_last: bool | None = None,
        cpu_chunk_bytes: int | None = None,
        fold_bn: bool = True,
        compile: bool = False,
        self_ensemble: bool = False,
    ) -> None:
        if axis not in (0, 1, 2):
            raise ConfigError(f"axis must be 0 (D), 1 (H) or 2 (W), got {axis!r}")
        ovs = (overlap,) if isinstance(overlap, int | float) else tuple(overlap)
        if not ovs or not all(0.0 <= float(o) < 1.0 for o in ovs):
            raise ConfigError(
                f"overlap must be in [0, 1) (one value or one per axis), got {overlap}"
            )
        if batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, got {batch_size}")
        self.spec = spec
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.window = window
        self.overlap = overlap
        self.blend: Blend = blend
        self.batch_size = batch_size
        self.exact = exact
        self.axis = axis
        self.amp_dtype = amp_dtype
        self.accumulate_dtype = accumulate_dtype
        self.self_ensemble = bool(self_ensemble)
        nd = spec.spatial_dims
        self.module: nn.Module | None = None
        if isinstance(net, nn.Module):
            from medsr.infer.optimize import prepare_for_inference

            self.module = net.eval()  # the caller's module, unmodified (halo measurement)
            if channels_last is None:
                channels_last = self.device.type == "cpu"
            net = prepare_for_inference(
                net, device=self.device, fold_bn=fold_bn, channels_last=channels_last,
                compile=compile,
            )  # fmt: skip
        self.channels_last = bool(channels_last)
        if cpu_chunk_bytes is None:
            from medsr.infer.optimize import cpu_cache_budget

            cpu_chunk_bytes = cpu_cache_budget()
        self.cpu_chunk_bytes = int(cpu_chunk_bytes)
        self._act_bytes: float | None = None  # largest activation per voxel (measured)
        self.fold_bn = fold_bn and self.module is not None
        self.compiled = compile and self.module is not None
        self.net = net
        self.halo: tuple[int, ...] | None = None
        if exact:
            if halo is not None:
                self.halo = (halo,) * nd if isinstance(halo, int) else tuple(halo)
            elif spec.halo is not None:
                self.halo = spec.halo
            elif self.module is not None:
                from medsr.infer.halo import exact_halo

                self.halo = exact_halo(
                    self.module, spatial_dims=nd, in_channels=spec.in_channels,
                    scale=spec.net_scale,
                )  # fmt: skip
            else:
                raise ConfigError(
                    "exact mode needs the model's halo; this engine does not record it"
                )
            if len(self.halo) != nd:
                raise ConfigError(f"halo must have {nd} entries, got {self.halo}")

    @classmethod
    def from_checkpoint(
        cls, ckpt: Any, *, source: dict[str, Any] | None = None, **options: Any
    ) -> Predictor:
        """Build the generator of a :class:`~medsr.artifact.checkpoint.Checkpoint` and wrap it."""
        return cls(
            ckpt.build_model(), spec=ModelSpec.from_checkpoint(ckpt, source=source), **options
        )

    # ------------------------------------------------------------------ checks
    def volume_scale(self, volume: Volume) -> tuple[int, int, int]:
        """Per-axis ``(sd, sh, sw)`` factor this predictor applies to ``volume``."""
        if self.spec.spatial_dims == 3:
            return self.spec.scale
        axis = 0 if volume.is_2d else self.axis
        out = [1, 1, 1]
        plane = [a for a in range(3) if a != axis]
        for a, s in zip(plane, self.spec.net_scale, strict=True):
            out[a] = s
        return out[0], out[1], out[2]

    def _check_extent(self, volume: Volume, path: str) -> None:
        """Refuse an input with fewer spatial dimensions than the network runs along.

        A 3D model runs along D, H and W, a 2D model along the two axes of its slices; each of
        them needs at least :data:`MIN_MODEL_AXIS` voxels (a 1D profile is not an image).
        """
        shape = tuple(int(n) for n in volume.shape)
        if self.spec.spatial_dims == 3:
            axes = [0, 1, 2]
        else:
            slice_axis = 0 if volume.is_2d else self.axis
            axes = [a for a in range(3) if a != slice_axis]
        short = [a for a in axes if shape[a] < MIN_MODEL_AXIS]
        if not short:
            return
        names = " x ".join("DHW"[a] for a in axes)
        sizes = " x ".join(str(shape[a]) for a in axes)
        other_plane = self.spec.spatial_dims == 2 and not volume.is_2d
        other_plane = other_plane and sum(n >= MIN_MODEL_AXIS for n in shape) >= 2
        raise InputError(
            path,
            f"image of shape {shape} (D, H, W) has {sizes} voxels along {names}; a "
            f"{self.spec.spatial_dims}D model needs at least {MIN_MODEL_AXIS} along each"
            + (" (choose another slice axis with --axis)" if other_plane else ""),
        )

    def check(self, volume: Volume, *, force: bool = False) -> list[str]:
        """Refuse inputs the model cannot take; return warnings for the ones ``force`` lets by.

        Raises:
            InputError: 3D model on a 2D image, wrong channel count, modality mismatch
                without ``force``, or a 2D image with a slice axis other than 0.
        """
        path = volume.meta.get("path", "<input>")
        spec = self.spec
        if spec.spatial_dims == 3 and volume.is_2d:
            raise InputError(
                path, f"a 3D model ({spec.name}) cannot enhance a 2D image; use a 2D model"
            )
        if spec.spatial_dims == 2 and volume.is_2d and self.axis != 0:
            raise InputError(path, f"a 2D image has no slice axis {self.axis}; use axis 0")
        self._check_extent(volume, path)
        if volume.channels != spec.in_channels:
            raise InputError(
                path, f"{volume.channels} channels; the model takes {spec.in_channels}"
            )
        found = known_modality(volume)
        notes = []
        if found is not None and found != spec.modality:
            msg = f"input modality {found} differs from the model's {spec.modality}"
            if not force:
                raise InputError(path, f"{msg}; pass --force (force=True) to run anyway")
            notes.append(msg)
            warnings.warn(msg, ModalityWarning, stacklevel=2)
        return notes

    # ------------------------------------------------------------------ running
    def run_array(self, x: np.ndarray, *, two_d: bool = False) -> np.ndarray:
        """Run the network over a ``(C, D, H, W)`` array in network units.

        Args:
            x: Input in network units.
            two_d: The array is one 2D image (``D == 1``): a 2D model runs on it directly.

        Returns:
            ``(C_out, *(spatial * volume scale))`` float32 array in network units.
        """
        if not self.self_ensemble:
            return self._run_once(x, two_d=two_d)
        axes = self.ensemble_axes(two_d=two_d)
        total: np.ndarray | None = None
        flips = list(itertools.product((False, True), repeat=len(axes)))
        for pattern in flips:
            flip = tuple(a for a, f in zip(axes, pattern, strict=True) if f)
            xin = np.flip(x, flip) if flip else x
            y = self._run_once(np.ascontiguousarray(xin), two_d=two_d)
            y = np.flip(y, flip) if flip else y
            if total is None:
                total = np.array(y, dtype=np.float32, copy=True)
            else:
                total += y
        assert total is not None
        total /= len(flips)
        return total

    def ensemble_axes(self, *, two_d: bool = False) -> tuple[int, ...]:
        """The ``(C, D, H, W)`` array axes the self-ensemble flips: the network's own axes."""
        if self.spec.spatial_dims == 3:
            return (1, 2, 3)
        slice_axis = 0 if two_d else self.axis
        return tuple(a for a in (1, 2, 3) if a != slice_axis + 1)

    def _run_once(self, x: np.ndarray, *, two_d: bool = False) -> np.ndarray:
        spec = self.spec
        if spec.spatial_dims == 3:
            batch = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None]
            out = self._tiled(batch)[0]
            return out.numpy()
        axis = 0 if two_d else self.axis
        slices = torch.from_numpy(np.moveaxis(np.asarray(x, dtype=np.float32), axis + 1, 0))
        out = self._tiled(slices)  # (n, C_out, P', Q')
        return np.ascontiguousarray(np.moveaxis(out.numpy(), 0, axis + 1))

    def _tiled(self, batch: torch.Tensor) -> torch.Tensor:
        nd = self.spec.spatial_dims
        spatial = tuple(int(n) for n in batch.shape[2:])
        overlap = self.overlap
        if self.window is None and nd == 2 and not self.exact:
            win_t, overlap = self._balanced_2d(spatial)
        else:
            default = WINDOW_3D if nd == 3 else OVERLAP_BASE_2D
            win = self.window if self.window is not None else default
            win_t = (win,) * nd if isinstance(win, int) else tuple(int(w) for w in win)
            if len(win_t) != nd or min(win_t) < 1:
                raise ConfigError(f"window must be one positive int or {nd} of them, got {win!r}")
            win_t = tuple(min(w, n) for w, n in zip(win_t, spatial, strict=True))
        net = self.net
        if self.channels_last:
            fmt = _memory_format(nd)
            base = net

            def net(t: torch.Tensor) -> torch.Tensor:
                return base(t.contiguous(memory_format=fmt))

        if self._splits_on_cpu():
            net = self._sub_batched(net)

        with torch.inference_mode():
            return sliding_window_inference(
                batch,
                net,
                window=win_t,
                scale=self.spec.net_scale,
                overlap=overlap,
                blend=self.blend,
                batch_size=self.batch_size,
                halo=self.halo if self.exact else None,
                device=self.device,
                amp_dtype=self.amp_dtype,
                out_channels=self.spec.out_channels,
                accumulate_dtype=self.accumulate_dtype,
            )

    def _balanced_2d(self, spatial: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[float, ...]]:
        """The 2D default tiling: per axis the fewest windows of at most :data:`WINDOW_2D` pixels
        that overlap by ``overlap`` x :data:`OVERLAP_BASE_2D` pixels (32 at the default 0.25),
        each as small as that allows. A 256^2 slice is one window instead of nine of 128^2 (2.25x
        the pixels computed); a 512^2 CT slice nine of 192^2 instead of 25 of 128^2."""
        ovs = (self.overlap,) if isinstance(self.overlap, int | float) else tuple(self.overlap)
        min_overlap = round(float(max(ovs)) * OVERLAP_BASE_2D)
        return balanced_windows(spatial, max_window=WINDOW_2D, min_overlap=min_overlap)

    def _splits_on_cpu(self) -> bool:

        return (
            self.device.type == "cpu"
            and self.cpu_chunk_bytes > 0
            and self.batch_size > 1
            and isinstance(self.net, nn.Module)
            and not self.compiled
            and not splits_cpu_batches(self.net)  # e.g. one window at a time itself
        )

    def _sub_batched(self, whole: Net) -> Net:
        """``whole`` run on sub-batches whose largest activation fits ``cpu_chunk_bytes``.

        The first window of the first call is run alone with hooks that measure the largest
        activation per voxel; the sub-batch size follows from it for every later window.
        """

        module = self.net
        assert isinstance(module, nn.Module)

        def net(t: torch.Tensor) -> torch.Tensor:
            outs = []
            if self._act_bytes is None:
                first, self._act_bytes = run_measuring_activations(module, whole, t[:1])
                outs.append(first)
                t = t[1:]
            per_window = self._act_bytes * math.prod(t.shape[2:])
            chunk = max(1, int(self.cpu_chunk_bytes // max(per_window, 1.0)))
            outs += [whole(t[i : i + chunk]) for i in range(0, t.shape[0], chunk)]
            return outs[0] if len(outs) == 1 else torch.cat(outs)

        return net

    def __call__(self, volume: Volume, *, force: bool = False) -> Volume:
        """Enhance ``volume``; the result has its units, orientation and field of view.

        Args:
            volume: The input volume.
            force: Run on a modality mismatch (with a :class:`ModalityWarning`).

        Returns:
            The enhanced volume; ``meta["medsr_model"]`` names the model and options.

        Raises:
            InputError: See :meth:`check`.
        """
        notes = self.check(volume, force=force)
        norm = self.spec.intensity
        unit_in, state = norm.forward(volume.array)
        norm.clip_for_network(unit_in)  # CT: bounded as in training
        pred = self.run_array(unit_in, two_d=volume.is_2d)
        del unit_in
        out = _inverse_inplace(norm, pred, state)
        passthrough = 0
        if tuple(self.volume_scale(volume)) == (1, 1, 1):
            passthrough = norm.pass_outside_window(out, volume.array)
        meta = dict(volume.meta)
        meta["medsr_model"] = {
            "name": self.spec.name,
            "scale": list(self.volume_scale(volume)),
            "options": self.options(),
            "intensity_state": {k: float(v) for k, v in state.items()},
            "hu_passthrough_voxels": passthrough,
            "warnings": notes,
        }
        result = volume.regrid(out, meta=meta)
        if known_modality(volume) is None and result.modality != self.spec.modality:
            # The file did not say; the model's modality (and its unit) is the best guess.
            unit = "HU" if self.spec.modality == "CT" else volume.unit
            result = replace(result, modality=self.spec.modality, unit=unit)
        return result

    def options(self) -> dict[str, Any]:
        """The inference options, JSON-able (recorded in sidecars)."""
        return {
            "mode": "exact" if self.exact else "blended",
            "window": self.window,
            "overlap": None if self.exact else self.overlap,
            "blend": None if self.exact else self.blend,
            "halo": None if self.halo is None else list(self.halo),
            "batch_size": self.batch_size,
            "axis": self.axis if self.spec.spatial_dims == 2 else None,
            "device": str(self.device),
            "amp_dtype": None if self.amp_dtype is None else str(self.amp_dtype).split(".")[-1],
            "accumulate_dtype": str(self.accumulate_dtype).split(".")[-1],
            "channels_last": self.channels_last,
            "cpu_chunk_bytes": self.cpu_chunk_bytes,
            "fold_bn": self.fold_bn,
            "compile": self.compiled,
            "self_ensemble": self.self_ensemble,
        }


def _memory_format(nd: int) -> torch.memory_format:
    return torch.channels_last_3d if nd == 3 else torch.channels_last
