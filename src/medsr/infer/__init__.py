"""Inference: sliding window, whole-volume predictor, k-space data consistency, export, enhance.

See ``docs/inference.md``.
"""

from medsr.infer.consistency import ConsistencyReport, apply_data_consistency, consistency_error
from medsr.infer.engines import ENGINES, load_engine
from medsr.infer.enhance import EnhanceOptions, enhance_files
from medsr.infer.export import export_model
from medsr.infer.halo import exact_halo
from medsr.infer.predictor import ModalityWarning, Predictor
from medsr.infer.sliding_window import sliding_window_inference
from medsr.infer.spec import ModelSpec

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
