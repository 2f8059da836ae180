"""Inference: sliding window, whole-volume predictor, export, enhance; the k-space data consistency
(:mod:`medsr.degrade.kspace_consistency`, beside the operator it inverts) is re-exported here.

See ``docs/inference.md``.
"""

from medsr.artifact.spec import ModelSpec
from medsr.degrade.kspace_consistency import (
    ConsistencyReport,
    apply_data_consistency,
    consistency_error,
)
from medsr.infer.engines import ENGINES, load_engine
from medsr.infer.enhance import EnhanceOptions, enhance_files
from medsr.infer.export import export_model
from medsr.infer.halo import exact_halo
from medsr.infer.predictor import ModalityWarning, Predictor
from medsr.nn.sliding_window import sliding_window_inference

__all__ = [
    "ENGINES",
    "ConsistencyReport",
    "EnhanceOptions",
    "ModalityWarning",
    "ModelSpec",
    "Predictor",
    "apply_data_consistency",
    "consistency_error",
    "enhance_files",
    "exact_halo",
    "export_model",
    "load_engine",
    "sliding_window_inference",
]
