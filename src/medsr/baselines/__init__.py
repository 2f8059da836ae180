"""Baselines: interpolation, zero-filled k-space, the low-dose input and classical denoisers.

One line per baseline registers it in :data:`BASELINES`; :func:`run_baseline` applies one to a
:class:`~medsr.data.Volume` and returns a volume with the right geometry.
"""

from medsr.baselines import denoise
from medsr.baselines.interpolate import cubic, interpolate, linear, nearest
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
BASELINES.register("nlm", Baseline(_DN, denoise.nlm, "non-local means per slice (scikit-image)"))
BASELINES.register(
    "bilateral", Baseline(_DN, denoise.bilateral, "bilateral per slice (scikit-image)")
)

__all__ = [
    "BASELINES",
    "Baseline",
    "interpolate",
    "run_baseline",
    "zero_fill_upsample",
]
