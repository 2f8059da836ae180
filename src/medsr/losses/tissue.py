"""Tissue-mean loss for CT denoisers: keep each tissue class's mean HU (ours; not part of DFGAN).

A denoiser trained with pixel losses estimates a conditional mean: where a tissue is thin and
the input noisy (subcutaneous fat between skin and muscle), it pulls the tissue towards its
neighbours, and the class's mean HU drifts (the bundled AttnDFGAN: fat +9 HU on held-out
patients, while a radiologist reads fat at about -100 HU). The `ct-tissue-hu` protocol measures
that drift (:mod:`medsr.metrics.tissue`); this loss penalises it during training, per patch, with
the protocol's own class masks (:func:`~medsr.metrics.tissue.tissue_masks` on the target:
thresholds on the smoothed reference, in-plane erosion), averaging the unsmoothed shift over them.

    loss = mean over (patch, class with >= min_pixels pixels) of (shift_HU / scale_hu)^2

``shift_HU`` is ``mean(pred - target)`` over the class's pixels, in HU (the network units of a
``hu-window`` [lo, hi] are mapped back), so a 10 HU shift costs 1 at the default scale.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from medsr.losses._checks import same_shape, spatial_dims_of
from medsr.metrics.tissue import CT_TISSUE_CLASSES, tissue_masks


class TissueMeanLoss(nn.Module):
    """Squared per-patch mean-HU shift of each CT tissue class (see the module docstring).

    Args:
        lo: The ``hu-window``'s lower bound (HU at network unit 0).
        hi: Its upper bound (HU at network unit 1).
        classes: ``(name, low, high)`` HU ranges on the smoothed reference (default: the
            ``ct-tissue-hu`` protocol's fat, muscle and bone).
        smooth: In-plane Gaussian sigma (pixels) of the copy of the reference that is thresholded.
        erosion: In-plane erosions of each class mask by a 3x3 cross.
        min_pixels: A class with fewer pixels in a patch is left out for that patch.
        scale_hu: The shift (HU) that costs 1.

    Shape:
        pred, x_hq: ``(B, C, H, W)`` or ``(B, C, D, H, W)`` in network units (3D: slices along D);
        output: scalar.
    """

    def __init__(
        self,
        lo: float = -1024.0,
        hi: float = 3072.0,
        classes: Sequence[Sequence[float | str]] | None = None,
        smooth: float = 1.0,
        erosion: int = 1,
        min_pixels: int = 20,
        scale_hu: float = 10.0,
    ) -> None:
        super().__init__()
        if not hi > lo:
            raise ValueError(f"TissueMeanLoss needs hi > lo, got lo={lo}, hi={hi}")
        if smooth < 0 or erosion < 0 or min_pixels < 1 or not scale_hu > 0:
            raise ValueError(
                "TissueMeanLoss: smooth and erosion must be >= 0, min_pixels >= 1, scale_hu > 0; "
                f"got {smooth}, {erosion}, {min_pixels}, {scale_hu}"
            )
        spec = CT_TISSUE_CLASSES if classes is None else classes
        self.classes = tuple((str(c[0]), float(c[1]), float(c[2])) for c in spec)
        for name, low, high in self.classes:
            if not low < high:
                raise ValueError(
                    f"TissueMeanLoss class {name!r}: need low < high, got {low}, {high}"
                )
        self.lo, self.hi = float(lo), float(hi)
        self.smooth, self.erosion = float(smooth), int(erosion)
        self.min_pixels, self.scale_hu = int(min_pixels), float(scale_hu)

    def forward(self, pred: Tensor, x_hq: Tensor) -> Tensor:
        same_shape("TissueMeanLoss", pred, x_hq, "pred", "x_hq")
        spatial_dims_of("TissueMeanLoss", pred)
        h, w = pred.shape[-2:]
        # the protocol's own masks (no gradient flows through them), one per class and plane
        ref = x_hq.detach().float().reshape(-1, h, w).cpu().numpy() * (self.hi - self.lo) + self.lo
        masks = tissue_masks(ref, classes=self.classes, erosion=self.erosion, smooth=self.smooth)
        shift = (pred.float() - x_hq.float()) * (self.hi - self.lo)
        groups = pred.shape[0]  # per patch: a 3D patch's slices form one group
        total, count = pred.new_zeros((), dtype=torch.float32), 0
        for m in masks.values():
            mask = torch.from_numpy(m).to(shift).reshape(groups, -1)
            n = mask.sum(1)
            keep = n >= self.min_pixels
            if bool(keep.any()):
                mean = (shift.reshape(groups, -1) * mask).sum(1)[keep] / n[keep]
                total = total + ((mean / self.scale_hu) ** 2).sum()
                count += int(keep.sum())
        return total / count if count else pred.sum() * 0.0
