"""The generic training loop. Recipes differ only in their step function
(:mod:`medsr.train.steps`); this file never branches on the recipe.

Per step: plan (phase, discriminator updates), learning rates (schedule x guard factor), the
step function inside the trainer's own RNG stream, EMA, callbacks, the divergence guard
(rollback to the last good checkpoint on a trip), logging; every ``val.every`` steps
validation (best checkpoint), every ``checkpoint.every`` steps a checkpoint. ``Trainer(cfg,
run_dir, resume=True)`` continues the newest checkpoint exactly: same data position, weights,
optimiser and scaler states and RNG streams.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from medsr.artifact.checkpoint import Checkpoint, save_checkpoint
from medsr.config.load import dump_yaml
from medsr.config.recipes import recipe_of
from medsr.config.schema import ExperimentConfig
from medsr.config.typed import to_plain
from medsr.io.atomic import write_text_atomic
from medsr.metrics.protocols import get_protocol
from medsr.nn.memory import channels_last_, channels_last_tensor
from medsr.train import build, data, rundir
from medsr.train.context import StepContext
from medsr.train.data import build_loader
from medsr.train.distributed import (
    DistInfo,
    any_rank,
    average_gradients,
    broadcast_module,
    init_distributed,
    shutdown,
)
from medsr.train.ema import EMA
from medsr.train.guard import DivergenceGuard
from medsr.train.log import RunLogger, truncate_log
from medsr.train.schedule import lr_factor, plan_step
from medsr.train.state import GlobalRNG, cpu_clone, restore_optimizer
from medsr.train.terms import GeneratorTerms
from medsr.train.validate import baseline_case, panel, predict_case, save_panel, score

Callback = Callable[["Trainer", int, dict[str, float]], None]


@dataclass
class TrainResult:
    """What a finished run reports."""

    run_dir: Path
    steps: int
    metric: str
    best_value: float | None
    best_step: int | None
    model_path: Path | None
    last_checkpoint: Path | None
    baseline: dict[str, float] = field(default_factory=dict)
    last_val: dict[str, float] = field(default_factory=dict)
    rollbacks: int = 0
    seconds: float = 0.0


class Trainer:
    """Train one experiment into ``run_dir``.

    Args:
        cfg: The validated config.
        run_dir: Output folder (new, or the run to resume).
        resume: Continue the newest checkpoint in ``run_dir``.
        callbacks: ``fn(trainer, step, scalars)`` after every step, before the guard (tests use
            them to inject faults; they may change the scalars or the networks).
        progress: Show a progress bar (None: on a terminal only).
    """

    def __init__(
        self,
        cfg: ExperimentConfig,
        run_dir: str | os.PathLike[str],
        *,
        resume: bool = False,
        callbacks: Sequence[Callback] = (),
        progress: bool | None = None,
    ) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.callbacks = list(callbacks)
        self.progress = progress
        self.step = 0
        self.batches = 0
        self.lr_scale = 1.0
        self.best: dict[str, Any] = {"value": None, "step": None}
        self.last_val: dict[str, float] = {}
        self.rollbacks = 0
        self._made_run_dir: bool | None = None  # set once a new run's folder is created

    # ----------------------------------------------------------------- setup
    def fit(self) -> TrainResult:
        """Run (or finish) the training; returns the summary."""

        was_initialized = torch.distributed.is_available() and torch.distributed.is_initialized()
        info = init_distributed()
        prev_det = torch.are_deterministic_algorithms_enabled()
        prev_bench = torch.backends.cudnn.benchmark
        try:
            if self.cfg.train.deterministic:
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
                torch.use_deterministic_algorithms(True)
            else:  # cuDNN times its algorithms per convolution shape (CUDA only; patches are fixed)
                torch.backends.cudnn.benchmark = True
            return self._fit(info)
        except BaseException:
            made = self._made_run_dir
            if made is not None and rundir.discard_new(self.run_dir, made=made):
                # failed before the first checkpoint: leave no half-made run folder behind
                self._made_run_dir = None
            raise
        finally:
            torch.use_deterministic_algorithms(prev_det)
            torch.backends.cudnn.benchmark = prev_bench
            if not was_initialized:
                shutdown(info)

    def _setup(self, info: DistInfo) -> None:

        cfg = self.cfg
        self.info = info
        self.device = build.resolve_device(cfg.train.device, local_rank=info.local_rank)
        self.amp = build.amp_dtype(cfg.train.amp, self.device)
        train_src, val_src = data.resolve_sources(cfg)
        self.dataset = data.build_dataset(cfg, train_src)
        self.cases = data.build_val_cases(cfg, val_src) if info.is_main else []
        self.norm = data.intensity_of(cfg)
        self.nets = build.build_networks(cfg, self.device)
        if cfg.train.init_generator and not self.resume:
            build.init_generator(cfg, self.nets["generator"])
        self.channels_last = cfg.train.channels_last
        if self.channels_last is None:
            self.channels_last = self.device.type == "cpu"
        if self.channels_last:
            for net in self.nets.values():
                channels_last_(net)
        build.probe_shapes(self.nets, self.dataset[(0, 0)], self.device)
        for net in self.nets.values():
            broadcast_module(net, info)
        self.trained = build.trained_roles(cfg, self.nets)
        self.optimizers = {
            r: build.build_optimizer(cfg.optim[r], list(self.nets[r].parameters()))
            for r in self.trained
        }
        fp16 = self.amp == torch.float16
        groups = ("generator", "discriminator")
        self.scalers = {g: torch.amp.GradScaler(self.device.type, enabled=fp16) for g in groups}
        adv, adv_w, penalty, noise = build.build_adversarial(cfg)
        feature = self.nets.get("feature")
        self.ctx = StepContext(
            nets=self.nets,
            optimizers=self.optimizers,
            scalers=self.scalers,
            terms=GeneratorTerms(
                cfg.losses.terms,
                feature_net=feature,
                feature_trainable="feature" in self.trained,
                device=self.device,
            ),
            adversarial=adv,
            adv_weight=adv_w,
            penalty=penalty,
            noise=noise,
            options=recipe_of(cfg).step_options(cfg),
            paired=cfg.data.mode != "unpaired",
            device=self.device,
            amp_dtype=self.amp,
            generator=torch.Generator(device=self.device).manual_seed(cfg.seed + 1 + info.rank),
            grad_clip={r: cfg.optim[r].grad_clip for r in self.trained},
            weight_clip=cfg.train.weight_clip,
            reduce_grads=lambda params: average_gradients(params, info),
        )
        ema_cfg = cfg.train.ema
        self.ema = None
        if ema_cfg is not None:
            self.ema = EMA(self.nets["generator"], decay=ema_cfg.decay, start=ema_cfg.start)
        adv_name = cfg.losses.adversarial.name if cfg.losses.adversarial else None
        self.guard = DivergenceGuard(cfg.train.guard, adversarial=adv_name)
        self.rng = GlobalRNG(cfg.seed + 1000 * info.rank, self.device)
        if info.is_main and not self.resume:  # only once the data and networks are built
            self._made_run_dir = rundir.prepare_new(self.run_dir)
            write_text_atomic(self.run_dir / "config.yaml", dump_yaml(cfg))

    # ----------------------------------------------------------------- state
    def capture(self) -> dict[str, Any]:
        """The complete training state (CPU copies)."""

        nets = {r: self.nets[r].state_dict() for r in self.nets if r in self.trained}
        return cpu_clone(
            {
                "step": self.step,
                "batches": self.batches,
                "lr_scale": self.lr_scale,
                "networks": nets,
                "optimizers": {r: o.state_dict() for r, o in self.optimizers.items()},
                "scalers": {g: s.state_dict() for g, s in self.scalers.items()},
                "ema": None if self.ema is None else self.ema.state_dict(),
                "rng": {"global": self.rng.state_dict(), "step": self.ctx.generator.get_state()},
                "guard": self.guard.state_dict(),
                "best": dict(self.best),
                "world_size": self.info.world_size,
            }
        )

    def restore(self, state: dict[str, Any], *, full: bool) -> None:
        """Load a captured state; ``full`` also restores the data position, the guard, the
        learning-rate factor and the best value (a resume; a rollback keeps those)."""

        self.step = int(state["step"])
        for r, sd in state["networks"].items():
            self.nets[r].load_state_dict(sd)
        for r, sd in state["optimizers"].items():
            restore_optimizer(self.optimizers[r], sd)
        for g, sd in state["scalers"].items():
            if sd:
                self.scalers[g].load_state_dict(sd)
        if self.ema is not None and state["ema"] is not None:
            self.ema.load_state_dict(state["ema"])
        self.rng.load_state_dict(state["rng"]["global"])
        self.ctx.generator.set_state(state["rng"]["step"])
        if full:
            self.batches = int(state["batches"])
            self.lr_scale = float(state["lr_scale"])
            self.guard.load_state_dict(state["guard"])
            self.best = dict(state["best"])

    def _model_checkpoint(self, train_state: dict[str, Any] | None) -> Checkpoint:
        cfg, gen = self.cfg, self.nets["generator"]
        weights = self.ema.state_dict() if self.ema is not None else gen.state_dict()

        return Checkpoint(
            model_name=cfg.networks["generator"].name,
            model_kwargs=dict(cfg.networks["generator"].kwargs),
            modality=cfg.task.modality,
            spatial_dims=cfg.task.spatial_dims,
            scale=tuple(cfg.task.scale),  # type: ignore[arg-type]
            intensity=self.norm,
            state_dict=cpu_clone(weights),
            config=to_plain(cfg),
            train_state=train_state,
            metrics=dict(self.last_val),
        )

    def save_checkpoint(self) -> Path | None:
        """Snapshot the state (every rank, for rollbacks) and write it (rank 0)."""
        self.snapshot = self.capture()
        self.guard.record_checkpoint(self.step)
        if not self.info.is_main:
            return None
        path = rundir.checkpoint_path(self.run_dir, self.step)
        save_checkpoint(self._model_checkpoint(self.snapshot), path)
        rundir.rotate(self.run_dir, keep=self.cfg.checkpoint.keep_last)
        self.logger.event(self.step, "checkpoint", path=str(path))
        return path

    # ----------------------------------------------------------------- loop
    def _fit(self, info: DistInfo) -> TrainResult:

        t0 = time.perf_counter()
        ckpt = None
        if self.resume:  # refuse a checkpoint without training state before any work
            ckpt = rundir.load_resume_checkpoint(self.run_dir)
            if info.is_main:
                rundir.clean_partials(self.run_dir)  # temporary files left by a killed run
        elif info.is_main:
            rundir.check_new(self.run_dir)
        self._setup(info)
        cfg, total = self.cfg, self.cfg.train.steps
        if ckpt is not None:
            assert ckpt.train_state is not None
            self.restore(ckpt.train_state, full=True)
            self.last_val = dict(ckpt.metrics)
            self.snapshot = ckpt.train_state
            if info.is_main:
                truncate_log(self.run_dir / "log.jsonl", after_step=self.step)
        self.logger = RunLogger(
            self.run_dir,
            total_steps=total,
            start_step=self.step,
            enabled=info.is_main,
            progress=self.progress,
            postfix_every=cfg.train.log_every,
        )
        try:
            if self.resume:
                self.logger.event(self.step, "resume", batches=self.batches)
            else:
                self.save_checkpoint()
            self.baseline = self._baseline()
            step_fn = recipe_of(cfg).step_function()
            it = iter(self._loader())

            def next_batch() -> dict[str, torch.Tensor]:
                batch = next(it)
                self.batches += 1
                out = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
                if self.channels_last:
                    out = {k: channels_last_tensor(v) for k, v in out.items()}
                return out

            while self.step < total:
                plan = plan_step(cfg.train, self.step)
                lrs = self._set_lrs()
                with self.rng.scope():
                    scalars = step_fn(self.ctx, next_batch, plan)
                if self.ema is not None and plan.g_update:
                    self.ema.update(self.nets["generator"], step=self.step)
                self.step += 1
                for cb in self.callbacks:
                    cb(self, self.step, scalars)
                if self._tripped(scalars):
                    continue
                self.logger.scalars(self.step, {**scalars, **lrs})
                if self.step % cfg.val.every == 0 or self.step == total:
                    metrics = self.validate()
                    if self._tripped({f"val_{k}": v for k, v in metrics.items()}):
                        continue
                if self.step % cfg.checkpoint.every == 0 or self.step == total:
                    self.save_checkpoint()
            return self._finish(t0)
        finally:
            self.logger.close()

    def _loader(self) -> torch.utils.data.DataLoader[dict[str, torch.Tensor]]:

        return build_loader(
            self.cfg,
            self.dataset,
            rank=self.info.rank,
            world_size=self.info.world_size,
            start_batch=self.batches,
            pin_memory=self.device.type == "cuda",
        )

    def _set_lrs(self) -> dict[str, float]:

        out = {}
        for role, opt in self.optimizers.items():
            oc = self.cfg.optim[role]
            lr = oc.lr * lr_factor(oc.schedule, step=self.step, total=self.cfg.train.steps)
            lr *= self.lr_scale
            for group in opt.param_groups:
                group["lr"] = lr
            out[f"lr_{role}"] = lr
        return out

    def _tripped(self, scalars: dict[str, float]) -> bool:

        reason = self.guard.check(scalars)
        if not any_rank(reason is not None, self.info, self.device):
            return False
        reason = reason or "another rank diverged"
        failed_at = self.step
        self.guard.record_recovery(step=failed_at, reason=reason)
        self.lr_scale *= self.cfg.train.guard.lr_factor
        self.restore(self.snapshot, full=False)
        self.rollbacks += 1
        self.logger.rewind(self.step)
        self.logger.event(
            failed_at, "rollback", reason=reason, to_step=self.step, lr_scale=self.lr_scale
        )
        self.logger.message(
            f"medsr train: step {failed_at}: {reason}; rolled back to step {self.step}, "
            f"learning rates x{self.lr_scale:g}"
        )
        return True

    # ----------------------------------------------------------------- validation
    def _predict_all(self) -> list[Any]:

        model = self.ema.shadow if self.ema is not None else self.nets["generator"]
        was = model.training
        model.eval()
        dims = self.cfg.task.spatial_dims
        scale = self.cfg.task.scale[3 - dims :]
        window = self.cfg.val.window or [p // s for p, s in zip(self.cfg.data.sampler.patch, scale)]
        try:
            return [
                predict_case(
                    model,
                    c,
                    norm=self.norm,
                    spatial_dims=dims,
                    scale=scale,
                    window=window,
                    device=self.device,
                    amp_dtype=self.amp,
                )
                for c in self.cases
            ]
        finally:
            model.train(was)

    def _baseline(self) -> dict[str, float]:

        if not self.cases:
            return {}
        scale = self.cfg.task.scale
        preds = [baseline_case(c, scale=scale) for c in self.cases]
        out = score(preds, self.cases, get_protocol(self.cfg.val.protocol))
        self.logger.event(self.step, "baseline", **out)
        return out

    def validate(self) -> dict[str, float]:
        """Score the generator (EMA weights when on) on the validation cases (rank 0)."""
        import numpy as np

        if not self.cases:
            return {}
        preds = self._predict_all()
        if not all(np.isfinite(p).all() for p in preds):
            nan = float("nan")
            self.logger.event(self.step, "validation", error="non-finite prediction")
            return {"psnr": nan, "ssim": nan, "nrmse": nan, "mae": nan, "hfen": nan}
        metrics = score(preds, self.cases, get_protocol(self.cfg.val.protocol))
        self.last_val = metrics
        value, best = metrics[self.cfg.val.metric], self.best["value"]
        better = best is None or (value > best if self.cfg.val.mode == "max" else value < best)
        if better:
            self.best = {"value": value, "step": self.step}
            save_checkpoint(self._model_checkpoint(None), self.run_dir / "best.pt")
        if self.cfg.val.panels:
            c = self.cases[0]
            img = panel(c.lq, preds[0], c.hq)
            save_panel(img, str(self.run_dir / "samples" / f"step_{self.step:08d}.png"))
        self.logger.event(self.step, "validation", **metrics, improved=better)
        return metrics

    def _finish(self, t0: float) -> TrainResult:
        model_path = None
        if self.info.is_main:
            model_path = self.run_dir / "model.pt"
            save_checkpoint(self._model_checkpoint(None), model_path)
        found = rundir.checkpoints(self.run_dir)
        result = TrainResult(
            run_dir=self.run_dir,
            steps=self.step,
            metric=self.cfg.val.metric,
            best_value=self.best["value"],
            best_step=self.best["step"],
            model_path=model_path,
            last_checkpoint=found[-1][1] if found else None,
            baseline=dict(self.baseline),
            last_val=dict(self.last_val),
            rollbacks=self.rollbacks,
            seconds=time.perf_counter() - t0,
        )
        if self.info.is_main:
            summary = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(result).items()}
            write_text_atomic(self.run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
            self.logger.event(
                self.step, "summary", **{k: v for k, v in summary.items() if k != "run_dir"}
            )
        return result
