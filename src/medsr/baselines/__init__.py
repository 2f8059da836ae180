"""Baselines: interpolation, zero-filled k-space, the low-dose input and classical denoisers.

One line per baseline registers it in :data:`BASELINES`; :func:`run_baseline` applies one to a
:class:`~medsr.data.Volume` and returns a volume with the right geometry.
"""

from medsr.baselines import denoise
from medsr.baselines.bm3d_ct import bm3d_ct
from medsr.baselines.interpolate import cubic, interpolate, linear, nearest
from medsr.baselines.noise import estimate_ct_noise_sigma
from medsr.baselines.run import run_baseline
from medsr.baselines.spec import Baseline, Task
from medsr.baselines.zero_fill import zero_fill_upsample
from medsr.registry import Registry

BASELINES: Registry[Baseline] = Registry("baseline")

_UP: Task = "upsample"
_DN: Task = "denoise"
BASELINES.register("nearest", Baseline(_UP, nearest, "voxel repetition"))
BASELINES.register("linear", Baseline(_UP, linear, "separable linear, edges replicated"))
BASELINES.register("cubic", Baseline(_UP, cubic, "separable Keys cubic (a=-0.5), edges replicated"))
BASELINES.register("zero-filled", Baseline(_UP, zero_fill_upsample, "zero-padded centred k-space"))
BASELINES.register("identity", Baseline(_DN, denoise.identity, "the low-dose input itself"))
_WHITE = denoise.estimate_noise_sigma
BASELINES.register(
    "nlm", Baseline(_DN, denoise.nlm, "non-local means per slice (scikit-image)", _WHITE)
)
BASELINES.register(
    "bilateral", Baseline(_DN, denoise.bilateral, "bilateral per slice (scikit-image)", _WHITE)
)
BASELINES.register(
    "bm3d",
    Baseline(
        _DN,
        bm3d_ct,
        "BM3D per slice in CT-window units, correlated-noise sigma (bm3d package)",
        estimate_ct_noise_sigma,
    ),
)

__all__ = [
    "BASELINES",
    "Baseline",
    "bm3d_ct",
    "estimate_ct_noise_sigma",
    "interpolate",
    "run_baseline",
    "zero_fill_upsample",
]
