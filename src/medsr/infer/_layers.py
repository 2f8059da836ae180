"""Layer kinds the inference rewrites recognise."""

from __future__ import annotations

from torch import nn

CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
