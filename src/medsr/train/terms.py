"""The generator's weighted loss terms, built from ``losses.terms``.

Each term is a :data:`~medsr.losses.LOSSES` entry called as ``loss(pred)`` (TV),
``loss(pred, x_hq, x_lq)`` (difference-map MSE) or ``loss(pred, x_hq)``; ``space: difference``
feeds ``pred - x_lq`` and ``x_hq - x_lq`` instead (DFGAN). Pixel terms run in float32. A
``feature`` term uses the run's feature extractor: frozen, it is the usual perceptual loss
(target features without gradient); trainable (3-player GAN), gradients flow through both
branches into the extractor, as in the authors' code.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from medsr.config.schema import TermConfig
from medsr.losses import LOSSES


@dataclass
class _Term:
    key: str
    weight: float
    space: str
    arity: int
    module: nn.Module | None
    feature: bool
    pretrain: bool


class GeneratorTerms:
    """Callable computing ``sum_i w_i term_i`` and the per-term values.

    Args:
        terms: ``losses.terms`` (zero-weight terms are skipped).
        feature_net: The feature extractor (needed by ``feature`` terms).
        feature_trainable: The extractor is trained (3-player): no ``no_grad`` on the target.
        device: Where loss modules with parameters or buffers live.
    """

    def __init__(
        self,
        terms: Mapping[str, TermConfig],
        *,
        feature_net: nn.Module | None,
        feature_trainable: bool,
        device: torch.device,
    ) -> None:

        self.feature_net = feature_net
        self.feature_trainable = feature_trainable
        self.terms: list[_Term] = []
        for key, t in terms.items():
            if t.weight == 0:
                continue
            if t.name == "feature":
                self.feature_criterion = str(t.kwargs.get("criterion", "l1"))
                module = (
                    None
                    if feature_trainable
                    else LOSSES.build("feature", extractor=feature_net, **t.kwargs)
                )
                self.terms.append(_Term(key, t.weight, t.space, 2, module, True, t.pretrain))
                continue
            module = LOSSES.build(t.name, **t.kwargs)
            if isinstance(module, nn.Module):
                module = module.to(device)
            arity = len(inspect.signature(module.forward).parameters)
            self.terms.append(_Term(key, t.weight, t.space, arity, module, False, t.pretrain))

    def __call__(
        self, pred: Tensor, x_hq: Tensor, x_lq: Tensor | None = None, *, pretrain: bool = False
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Weighted sum (float32 scalar) and the unweighted term values (detached); with
        ``pretrain`` only the terms marked for the pretraining phase."""
        total = pred.new_zeros((), dtype=torch.float32)
        logs: dict[str, Tensor] = {}
        for t in self.terms:
            if pretrain and not t.pretrain:
                continue
            value = self._one(t, pred, x_hq, x_lq)
            logs[f"g_{t.key}"] = value.detach()
            total = total + t.weight * value
        return total, logs

    def _one(self, t: _Term, pred: Tensor, x_hq: Tensor, x_lq: Tensor | None) -> Tensor:
        if t.feature:
            if t.module is not None:
                return t.module(pred, x_hq).float()
            return self._trainable_feature(pred, x_hq)
        p, y = pred.float(), x_hq.float()
        if t.space == "difference":
            assert x_lq is not None
            p, y = p - x_lq.float(), y - x_lq.float()
        assert t.module is not None
        if t.arity == 1:
            return t.module(p).float()
        if t.arity == 3:
            assert x_lq is not None
            return t.module(p, y, x_lq.float()).float()
        return t.module(p, y).float()

    def _trainable_feature(self, pred: Tensor, x_hq: Tensor) -> Tensor:
        assert self.feature_net is not None
        fp, ft = self.feature_net(pred), self.feature_net(x_hq)
        fps = fp if isinstance(fp, list | tuple) else [fp]
        fts = ft if isinstance(ft, list | tuple) else [ft]
        dist = F.l1_loss if self.feature_criterion == "l1" else F.mse_loss
        total = pred.new_zeros((), dtype=torch.float32)
        for a, b in zip(fps, fts):
            total = total + dist(a.float(), b.float())
        return total
