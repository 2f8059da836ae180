"""One step function per recipe family; the generic loop (:mod:`medsr.train.trainer`) calls the
step its recipe names (:class:`~medsr.config.recipes.RecipeSpec`, ``step(ctx, next_batch, plan)``)
and gets back the step's scalars.

* ``supervised``: pixel / feature terms only.
* ``gan``: generator update (terms + adversarial), then ``plan.d_updates`` discriminator
  updates (vanilla, least-squares, hinge, RaGAN; optional instance noise). The first
  discriminator update reuses the generator's batch and output.
* ``wgan_gp``: critic first: ``plan.d_updates`` critic updates on fresh batches (WGAN loss +
  gradient penalty), then one generator update on a fresh batch (mDCSRN schedule: warm-up,
  n_critic, bursts come from the plan).
* ``wgan``: the same schedule without the penalty; the critic's weights are clipped after each
  of its updates (``train.weight_clip``, applied by :meth:`StepContext.update`).
* ``cycle``: SRResCycGAN: G_SR and G_LR updated together, then D_HR and D_LR.
* ``threeplayer``: ``gan`` with a trainable feature extractor updated with the generator.

Scalars: ``g_total``, ``g_<term>``, ``g_adv``, ``d_loss``, ``d_gp``, ``d_real`` / ``d_fake``
(mean logits), ``pred_std`` (std of the generator output, watched by the guard).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from medsr.train.context import Batch, NextBatch, StepContext
from medsr.train.schedule import StepPlan

#: A step: ``step(ctx, next_batch, plan) -> scalars``; a recipe names its step in its
#: :class:`~medsr.config.recipes.RecipeSpec` (``"medsr.train.steps:gan_step"``).
StepFn = Callable[[StepContext, NextBatch, StepPlan], dict[str, float]]


def _floats(values: dict[str, Tensor | float]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items()}


def _g_update(
    ctx: StepContext, batch: Batch, plan: StepPlan, *, roles: tuple[str, ...] = ("generator",)
) -> tuple[Tensor, dict[str, Tensor | float]]:
    """Generator update on ``batch``; returns the detached output and the scalars."""
    x_lq, x_hq = batch["x_lq"], batch["x_hq"]
    gen = ctx.nets["generator"]
    adversarial = plan.phase == "adversarial" and ctx.adversarial is not None
    with ctx.only(*roles), ctx.autocast():
        pred = gen(x_lq)
        total, logs = ctx.terms(pred, x_hq, x_lq, pretrain=plan.phase == "pretrain")
        out: dict[str, Tensor | float] = dict(logs)
        if adversarial:
            assert ctx.adversarial is not None
            disc = ctx.nets["discriminator"]
            cond = ctx.condition(x_lq)
            fake_in, real_in = ctx.noisy(pred, x_hq, step=plan.adv_step)
            fake_logits = disc(fake_in, *cond)
            real_logits = None
            if ctx.adversarial.needs_real_logits_for_g:
                real_logits = disc(real_in, *cond).detach()
            g_adv = ctx.adversarial.g_loss(fake_logits, real_logits)
            total = total + ctx.adv_weight * g_adv
            out["g_adv"] = g_adv.detach()
    ctx.update(roles, total)
    out["g_total"] = total.detach()
    out["pred_std"] = pred.detach().float().std()
    return pred.detach(), out


def _d_update(ctx: StepContext, fake: Tensor, batch: Batch, plan: StepPlan) -> dict[str, Tensor]:
    """One discriminator update on real ``batch["x_hq"]`` against ``fake``."""
    assert ctx.adversarial is not None
    disc = ctx.nets["discriminator"]
    x_lq, x_hq = batch["x_lq"], batch["x_hq"]
    cond = ctx.condition(x_lq)
    with ctx.only("discriminator"), ctx.autocast():
        real_in, fake_in = ctx.noisy(x_hq, fake, step=plan.adv_step)
        real_logits, fake_logits = disc(real_in, *cond), disc(fake_in, *cond)
        loss = ctx.adversarial.d_loss(real_logits, fake_logits)
        out = {
            "d_real": real_logits.detach().float().mean(),
            "d_fake": fake_logits.detach().float().mean(),
        }
        if ctx.penalty is not None:
            gp = ctx.penalty(
                disc,
                real_in,
                fake_in,
                generator=ctx.generator,
                extra_inputs=cond,
                scaler=ctx.scalers.get("discriminator"),
            )
            out["d_gp"] = gp.detach()
            loss = loss + gp
    ctx.update(("discriminator",), loss)
    out["d_loss"] = loss.detach()
    return out


@torch.no_grad()
def _fake(ctx: StepContext, batch: Batch) -> Tensor:
    with ctx.autocast():
        return ctx.nets["generator"](batch["x_lq"]).detach()


def supervised_step(ctx: StepContext, next_batch: NextBatch, plan: StepPlan) -> dict[str, float]:
    """Pixel / feature terms only."""
    _, out = _g_update(ctx, next_batch(), plan)
    return _floats(out)


def gan_step(
    ctx: StepContext,
    next_batch: NextBatch,
    plan: StepPlan,
    *,
    g_roles: tuple[str, ...] = ("generator",),
) -> dict[str, float]:
    """Generator first, then ``plan.d_updates`` discriminator updates (module docstring)."""
    out: dict[str, Tensor | float] = {}
    batch = next_batch()
    fake = None
    if plan.g_update:
        fake, out = _g_update(ctx, batch, plan, roles=g_roles)
    for i in range(plan.d_updates):
        if i > 0 or fake is None:
            batch = next_batch()
            fake = _fake(ctx, batch)
        out.update(_d_update(ctx, fake, batch, plan))
    return _floats(out)


def wgan_gp_step(ctx: StepContext, next_batch: NextBatch, plan: StepPlan) -> dict[str, float]:
    """Critic first: ``plan.d_updates`` critic updates, then one generator update."""
    out: dict[str, Tensor | float] = {}
    for _ in range(plan.d_updates):
        batch = next_batch()
        out.update(_d_update(ctx, _fake(ctx, batch), batch, plan))
    if plan.g_update:
        _, g_out = _g_update(ctx, next_batch(), plan)
        out.update(g_out)
    return _floats(out)


def threeplayer_step(ctx: StepContext, next_batch: NextBatch, plan: StepPlan) -> dict[str, float]:
    """:func:`gan_step` with the feature extractor updated together with the generator."""
    return gan_step(ctx, next_batch, plan, g_roles=("generator", "feature"))


def cycle_step(ctx: StepContext, next_batch: NextBatch, plan: StepPlan) -> dict[str, float]:
    """SRResCycGAN step (Umer & Micheloni, ECCVW 2020).

    Generators: ``sr = G_SR(x_lq)``, ``lr_fake = G_LR(x_hq)``. The generator loss is the LR
    cycle ``cycle.weight * L1(G_LR(sr), x_lq)``, the terms on ``(sr, x_hq)`` when paired or on
    the HR cycle ``(G_SR(lr_fake), x_hq)`` when unpaired, ``cycle.lq_pixel * L1(lr_fake, x_lq)``
    when paired, and in the GAN phase ``adv_weight * g_adv(D_HR)`` +
    ``cycle.lq_adversarial * g_adv(D_LR)``. Then D_HR (``x_hq`` vs ``sr``) and D_LR (``x_lq``
    vs ``lr_fake``) are updated together. Instance noise (``losses.adversarial.instance_noise``)
    is added to both discriminators' inputs, one sample per real/fake pair as in :func:`gan_step`.
    """
    assert ctx.options is not None
    batch = next_batch()
    x_lq, x_hq = batch["x_lq"], batch["x_hq"]
    g_sr, g_lr = ctx.nets["generator"], ctx.nets["generator_lr"]
    adversarial = plan.phase == "adversarial" and ctx.adversarial is not None
    out: dict[str, Tensor | float] = {}
    if plan.g_update:
        with ctx.only("generator", "generator_lr"), ctx.autocast():
            sr = g_sr(x_lq)
            lr_fake = g_lr(x_hq)
            cyc = F.l1_loss(g_lr(sr).float(), x_lq.float())
            if ctx.paired:
                total, logs = ctx.terms(sr, x_hq, x_lq, pretrain=not adversarial)
                lr_pix = F.l1_loss(lr_fake.float(), x_lq.float())
                total = total + ctx.options.lq_pixel * lr_pix
                out["g_lq_pixel"] = lr_pix.detach()
            else:
                total, logs = ctx.terms(g_sr(lr_fake), x_hq, pretrain=not adversarial)
            total = total + ctx.options.weight * cyc
            out.update(logs)
            out["g_cycle"] = cyc.detach()
            if adversarial:
                assert ctx.adversarial is not None
                d_hr, d_lr = ctx.nets["discriminator"], ctx.nets["discriminator_lr"]
                need_real = ctx.adversarial.needs_real_logits_for_g
                sr_in, hq_in = ctx.noisy(sr, x_hq, step=plan.adv_step)
                lr_in, lq_in = ctx.noisy(lr_fake, x_lq, step=plan.adv_step)
                adv_hr = ctx.adversarial.g_loss(
                    d_hr(sr_in), d_hr(hq_in).detach() if need_real else None
                )
                adv_lr = ctx.adversarial.g_loss(
                    d_lr(lr_in), d_lr(lq_in).detach() if need_real else None
                )
                total = total + ctx.adv_weight * adv_hr + ctx.options.lq_adversarial * adv_lr
                out["g_adv"], out["g_adv_lr"] = adv_hr.detach(), adv_lr.detach()
        ctx.update(("generator", "generator_lr"), total)
        out["g_total"], out["pred_std"] = total.detach(), sr.detach().float().std()
        sr, lr_fake = sr.detach(), lr_fake.detach()
    else:
        with torch.no_grad(), ctx.autocast():
            sr, lr_fake = g_sr(x_lq), g_lr(x_hq)
    if adversarial and plan.d_updates:
        assert ctx.adversarial is not None
        d_hr, d_lr = ctx.nets["discriminator"], ctx.nets["discriminator_lr"]
        with ctx.only("discriminator", "discriminator_lr"), ctx.autocast():
            hq_in, sr_in = ctx.noisy(x_hq, sr, step=plan.adv_step)  # identity without noise
            lq_in, lr_in = ctx.noisy(x_lq, lr_fake, step=plan.adv_step)
            loss_hr = ctx.adversarial.d_loss(d_hr(hq_in), d_hr(sr_in))
            loss_lr = ctx.adversarial.d_loss(d_lr(lq_in), d_lr(lr_in))
            loss = loss_hr + loss_lr
        ctx.update(("discriminator", "discriminator_lr"), loss)
        out["d_loss"], out["d_loss_lr"] = loss_hr.detach(), loss_lr.detach()
    return _floats(out)
