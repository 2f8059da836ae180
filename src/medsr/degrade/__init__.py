"""Degradations: pure, seeded functions on arrays whose last ``spatial_dims`` axes are spatial.

Every function returns float32, takes keyword-only arguments and, when random, an explicit
``numpy.random.Generator`` named ``rng``. :data:`DEGRADATIONS` names them for configs and
:class:`DegradationPipeline`; :mod:`medsr.degrade.volumes` applies them to volumes with geometry,
and :func:`degrade_volume` by the same names (:data:`VOLUME_KINDS`). Its keys are the canonical
names; :mod:`medsr.degrade_names` says which have a whole-volume form and lists the aliases.
"""

from collections.abc import Callable

import numpy as np

from medsr.degrade.apply import VOLUME_KINDS, degrade_volume
from medsr.degrade.ct import simulate_low_dose_ct
from medsr.degrade.kspace import truncate_kspace, truncate_kspace_zero_edges
from medsr.degrade.kspace_augment import (
    gaussian_kspace_filter,
    random_gaussian_kspace_filter,
    random_kspace_truncation,
)
from medsr.degrade.kspace_mdcsrn_augment import (
    check_choice_stage,
    kspace_aug1_blend,
    kspace_aug2_gaussian,
    kspace_aug3_shift,
    kspace_aug4_centred,
    kspace_aug5_blend160,
    kspace_aug_choice,
)
from medsr.degrade.noise import add_gaussian_noise, add_poisson_gaussian_noise, add_rician_noise
from medsr.degrade.pipeline import DegradationPipeline, Stage
from medsr.degrade.resample import decimate, downsample_area, downsample_bicubic
from medsr.degrade.thickness import simulate_slice_thickness
from medsr.registry import Registry

DEGRADATIONS: Registry[Callable[..., np.ndarray]] = Registry("degradation")
DEGRADATIONS.register("kspace_truncate", truncate_kspace)
DEGRADATIONS.register("kspace_truncate_zero_edges", truncate_kspace_zero_edges)
DEGRADATIONS.register("kspace_random_truncate", random_kspace_truncation)
DEGRADATIONS.register("kspace_gaussian", gaussian_kspace_filter)
DEGRADATIONS.register("kspace_random_gaussian", random_gaussian_kspace_filter)
DEGRADATIONS.register("kspace_aug1_blend", kspace_aug1_blend)
DEGRADATIONS.register("kspace_aug2_gaussian", kspace_aug2_gaussian)
DEGRADATIONS.register("kspace_aug3_shift", kspace_aug3_shift)
DEGRADATIONS.register("kspace_aug4_centred", kspace_aug4_centred)
DEGRADATIONS.register("kspace_aug5_blend160", kspace_aug5_blend160)
DEGRADATIONS.register("kspace_aug_choice", kspace_aug_choice)
DEGRADATIONS.register("downsample_area", downsample_area)
DEGRADATIONS.register("downsample_bicubic", downsample_bicubic)
DEGRADATIONS.register("decimate", decimate)
DEGRADATIONS.register("slice_thickness", simulate_slice_thickness)
DEGRADATIONS.register("gaussian_noise", add_gaussian_noise)
DEGRADATIONS.register("rician_noise", add_rician_noise)
DEGRADATIONS.register("poisson_gaussian_noise", add_poisson_gaussian_noise)
DEGRADATIONS.register("lowdose_ct", simulate_low_dose_ct)

#: Load-time value checks of stages whose arguments name other stages (``DegradationPipeline``).
STAGE_CHECKS: dict[str, Callable[..., None]] = {"kspace_aug_choice": check_choice_stage}

__all__ = [
    "DEGRADATIONS",
    "STAGE_CHECKS",
    "VOLUME_KINDS",
    "DegradationPipeline",
    "Stage",
    "add_gaussian_noise",
    "add_poisson_gaussian_noise",
    "add_rician_noise",
    "decimate",
    "degrade_volume",
    "downsample_area",
    "downsample_bicubic",
    "gaussian_kspace_filter",
    "kspace_aug1_blend",
    "kspace_aug2_gaussian",
    "kspace_aug3_shift",
    "kspace_aug4_centred",
    "kspace_aug5_blend160",
    "kspace_aug_choice",
    "random_gaussian_kspace_filter",
    "random_kspace_truncation",
    "simulate_low_dose_ct",
    "simulate_slice_thickness",
    "truncate_kspace",
    "truncate_kspace_zero_edges",
]
