"""Training data: intensity states come from the low-quality input, as at inference."""

from __future__ import annotations

import numpy as np
import pytest

from medsr.config import load_config
from medsr.train import data
from tests.train.conftest import CONFIGS


@pytest.mark.parametrize("level", ["volume", "sample"])
def test_percentile_state_is_measured_on_the_low_quality_input(level: str) -> None:
    cfg = load_config(
        CONFIGS / "tiny" / "mdcsrn_wgangp.yaml", overrides=[f"data.degradation.level={level}"]
    )
    norm = data.intensity_of(cfg)
    assert norm.kind == "percentile"
    train, _ = data.resolve_sources(cfg)
    subjects = data.build_subjects(cfg, train, need_lq=True)
    degrader = data.degrader_of(cfg)
    assert degrader is not None
    for i, subj in enumerate(subjects):
        hq_state = norm.forward(subj.hq)[1]
        if subj.lq:  # cached realization (volume level)
            lq = subj.lq[0]
        else:  # sample level: one whole-volume degradation made for the state
            rng = np.random.default_rng([cfg.seed, data._STATE_TAG, i])
            lq = data._degrade_whole(cfg, degrader, subj, rng)
        assert subj.state == norm.forward(lq)[1]
        assert subj.state["scale"] != pytest.approx(hq_state["scale"], rel=1e-6)


def test_a_data_source_takes_the_dicom_slice_tolerance(tmp_path) -> None:
    import pydicom

    from medsr.errors import InputError
    from tests.io.dicom_factory import write_series

    stored = (np.arange(12 * 16 * 16).reshape(12, 16, 16) % 50 * 20).astype(np.int16)
    paths = write_series(
        tmp_path / "s", stored, ipp0=[0, 0, 0], iop=[1, 0, 0, 0, 1, 0], pixel_spacing=(1, 1),
        step=[0, 0, 4.0], series_uid="3.4", rng=np.random.default_rng(0), first_instance=1,
    )  # fmt: skip
    first = min(paths, key=lambda p: float(pydicom.dcmread(p).ImagePositionPatient[2]))
    ds = pydicom.dcmread(first)
    ds.ImagePositionPatient = [f"{v:.6f}" for v in (0.0, 0.0, -0.4)]  # 0.4 mm out of place
    ds.save_as(first)
    source = f"data.train=[{{scan: {tmp_path / 's'}}}]"
    cfg = load_config(CONFIGS / "tiny" / "mdcsrn_wgangp.yaml", overrides=[source])
    with pytest.raises(InputError, match="uneven slice spacing"):
        data._subject(cfg, cfg.data.train[0])
    source = f"data.train=[{{scan: {tmp_path / 's'}, slice_tolerance: 0.5}}]"
    cfg = load_config(CONFIGS / "tiny" / "mdcsrn_wgangp.yaml", overrides=[source])
    assert cfg.data.train[0].slice_tolerance == 0.5
    assert data._subject(cfg, cfg.data.train[0]).hq.shape[-3:] == (12, 16, 16)


def test_a_zoomed_source_is_a_finer_pixel_copy_whose_noise_is_simulated_at_its_pixels() -> None:
    def subject(zoom: int) -> data.Subject:
        over = [f"data.train=[{{scan: pydicom_ct_small, zoom: {zoom}}}]"]
        cfg = load_config(CONFIGS / "tiny" / "dfgan.yaml", overrides=over)
        assert cfg.data.train[0].zoom == zoom
        return data.build_subjects(cfg, cfg.data.train, need_lq=True)[0]

    plain, fine = subject(1), subject(2)
    d, h, w = plain.hq.shape[-3:]
    assert fine.hq.shape[-3:] == (d, 2 * h, 2 * w) and fine.lq[0].shape == fine.hq.shape
    assert fine.spacing == pytest.approx(
        (plain.spacing[0], plain.spacing[1] / 2, plain.spacing[2] / 2)
    )
    # Keys cubic keeps the coarse samples' values between them (the grid's centres moved by 1/4)
    assert float(fine.hq.mean()) == pytest.approx(float(plain.hq.mean()), rel=0.02)
    body = plain.hq[0] > -500
    fine_body = fine.hq[0] > -500

    def noise(s: data.Subject, m: np.ndarray) -> float:
        return float(np.std((s.lq[0][0] - s.hq[0])[m]))

    # same dose over pixels of a quarter of the area: clearly more noise per pixel
    assert noise(fine, fine_body) > 1.5 * noise(plain, body)


def test_zoom_is_refused_where_it_cannot_apply() -> None:
    from medsr.config.schema import SourceConfig
    from medsr.errors import ConfigError

    for bad in (0, 1.5, True):
        with pytest.raises(ConfigError, match="zoom must be an integer >= 1"):
            SourceConfig(scan="x", zoom=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="paired low-quality scan cannot be zoomed"):
        SourceConfig(scan="x", lq="y", zoom=2)


def test_a_crop_larger_than_a_training_scan_is_refused_before_the_noise_cache(monkeypatch) -> None:
    from medsr.errors import ConfigError

    over = ["data.train=[{scan: pydicom_ct_small}]", "data.sampler.patch=[1024,1024]"]
    cfg = load_config(CONFIGS / "tiny" / "dfgan.yaml", overrides=over)
    assert cfg.data.degradation is not None and cfg.data.degradation.level == "volume"

    def never(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the cached degradation ran before the crop was checked")

    monkeypatch.setattr(data, "_degrade_whole", never)
    with pytest.raises(ConfigError, match=r"pydicom_ct_small: patch \[1, 1024, 1024\] is larger"):
        data.build_subjects(cfg, cfg.data.train, need_lq=True)
