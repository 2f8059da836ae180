"""Metrics (PSNR, SSIM, NRMSE, MAE), named evaluation protocols and result aggregation.

The torch SSIM for training losses lives in :mod:`medsr.metrics.torch_ssim` and is not
imported here, so this package does not import torch.
"""

from medsr.metrics.aggregate import CaseResult, Summary, summarize
from medsr.metrics.functional import hfen, mae, mse, nrmse, psnr, ssim, ssim_map
from medsr.metrics.pairs import evaluate_volumes
from medsr.metrics.protocols import PROTOCOLS, Protocol, get_protocol
from medsr.metrics.table import format_table

__all__ = [
    "PROTOCOLS",
    "CaseResult",
    "Protocol",
    "Summary",
    "evaluate_volumes",
    "format_table",
    "get_protocol",
    "hfen",
    "mae",
    "mse",
    "nrmse",
    "psnr",
    "ssim",
    "ssim_map",
    "summarize",
]
