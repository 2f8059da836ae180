"""Fixtures for the metric tests: the MNI152 2009a T1 template shipped with nilearn."""

from __future__ import annotations

import importlib.resources

import numpy as np
import pytest

MNI_FILE = "datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"


@pytest.fixture(scope="session")
def mni() -> np.ndarray:
    """The MNI152 2009a T1 template (197 x 233 x 189, uint8 values 0..255) as float64."""
    pytest.importorskip("nilearn", reason="pip install nilearn (the 'data' extra)")
    import nibabel as nib

    path = importlib.resources.files("nilearn") / MNI_FILE
    if not path.is_file():
        pytest.skip(f"nilearn does not ship {MNI_FILE}; pip install nilearn")
    return np.asarray(nib.load(str(path)).dataobj, dtype=np.float64)
