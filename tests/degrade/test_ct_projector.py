"""Parallel-beam projector and FBP against scikit-image and an analytic disc."""

from __future__ import annotations

import numpy as np
import pytest

from medsr.degrade.ct_projector import default_detector_count, fbp, forward_project
from medsr.errors import ConfigError

skt = pytest.importorskip("skimage.transform", reason="scikit-image is the reference")


def _disc(n: int, radius: float, supersample: int = 8) -> np.ndarray:
    """Anti-aliased disc centred on the image centre: the fraction of each pixel inside it."""
    c = (n - 1) / 2.0
    o = (np.arange(supersample) + 0.5) / supersample - 0.5
    yy = np.arange(n)[:, None, None, None] + o[None, None, :, None] - c
    xx = np.arange(n)[None, :, None, None] + o[None, None, None, :] - c
    return ((yy**2 + xx**2) <= radius**2).mean(axis=(2, 3))


def _phantom() -> np.ndarray:
    im = np.zeros((63, 63))
    yy, xx = np.mgrid[:63, :63]
    im[(yy - 31) ** 2 + (xx - 30) ** 2 < 18**2] = 1.0
    im[20:30, 25:40] += 0.5
    return im


def test_projection_of_a_disc_is_its_chord_length() -> None:
    radius = 20.0
    sino = forward_project(_disc(65, radius), views=90)
    nd = sino.shape[1]
    assert nd == default_detector_count((65, 65)) and nd % 2 == 1
    t = np.arange(nd) - (nd - 1) / 2.0
    chord = 2.0 * np.sqrt(np.clip(radius**2 - t**2, 0.0, None))
    inner = np.abs(t) < radius - 1.5
    assert np.abs(sino[:, inner] - chord[inner]).max() < 0.015 * chord.max()
    assert np.abs(sino - chord).mean() < 0.005 * chord.max()


def test_fbp_of_analytic_disc_projections_recovers_the_disc() -> None:
    radius, n = 20.0, 65
    nd = default_detector_count((n, n))
    t = np.arange(nd) - (nd - 1) / 2.0
    sino = np.tile(2.0 * np.sqrt(np.clip(radius**2 - t**2, 0.0, None)), (360, 1))
    rec = fbp(sino, shape=(n, n))
    r = np.hypot(*(np.mgrid[:n, :n] - (n - 1) / 2.0))
    assert abs(rec[r < radius - 3].mean() - 1.0) < 0.01
    assert np.abs(rec[r < radius - 3] - 1.0).max() < 0.04
    assert np.abs(rec[r > radius + 3]).max() < 0.01


def test_projector_matches_skimage_radon() -> None:
    im = _phantom()
    theta = np.arange(180.0)
    ref = skt.radon(im, theta=theta, circle=False)  # (detectors, views), centre at index nd // 2
    # one more bin puts our centre, (nd - 1) / 2, on skimage's
    ours = forward_project(im, views=180, detectors=ref.shape[0] + 1)[:, : ref.shape[0]].T
    assert np.abs(ours - ref).max() < 0.02 * ref.max()
    assert np.abs(ours - ref).mean() < 1e-3 * ref.max()


@pytest.mark.parametrize(
    ("ours", "theirs", "tol"),
    [
        ("ramp", "ramp", 1e-5),
        ("shepp-logan", "shepp-logan", 1e-5),
        ("cosine", "cosine", 1e-5),
        ("hann", "hann", 2e-3),
    ],
)
def test_fbp_matches_skimage_iradon(ours: str, theirs: str, tol: float) -> None:
    theta = np.arange(180.0)
    sino = skt.radon(_phantom(), theta=theta, circle=False)
    ref = skt.iradon(sino, theta=theta, circle=False, filter_name=theirs, output_size=63)
    padded = np.concatenate([sino, np.zeros((1, sino.shape[1]))], axis=0).T
    rec = fbp(padded, shape=(63, 63), filter=ours)  # type: ignore[arg-type]
    assert np.abs(rec - ref).max() < tol * max(1.0, np.abs(ref).max())


def test_batches_are_projected_independently() -> None:
    rng = np.random.default_rng(0)
    stack = rng.random((2, 3, 20, 17)).astype(np.float32)
    sino = forward_project(stack, views=12)
    assert sino.shape == (2, 3, 12, default_detector_count((20, 17)))
    np.testing.assert_allclose(sino[1, 2], forward_project(stack[1, 2], views=12), rtol=1e-6)
    rec = fbp(sino, shape=(20, 17))
    np.testing.assert_allclose(rec[0, 1], fbp(sino[0, 1], shape=(20, 17)), rtol=1e-5, atol=1e-6)


def test_bad_geometry_raises() -> None:
    with pytest.raises(ConfigError, match="views"):
        forward_project(np.zeros((8, 8)), views=0)
    with pytest.raises(ConfigError, match="detectors"):
        forward_project(np.zeros((8, 8)), views=4, detectors=0)
    with pytest.raises(ConfigError, match="filter"):
        fbp(np.zeros((4, 9)), shape=(8, 8), filter="butterworth")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("shape", "views", "detectors"),
    [
        ((33, 33), 90, None),  # square, even views: all four symmetries share one matrix
        ((33, 33), 45, None),  # odd views: two families
        ((20, 17), 12, None),  # tall
        ((17, 20), 13, None),  # wide, odd views
        ((24, 24), 8, 11),  # detector narrower than the image: rays clipped at both ends
    ],
)
def test_sparse_projector_equals_the_gather_reference(
    shape: tuple[int, int], views: int, detectors: int | None
) -> None:
    rng = np.random.default_rng(3)
    stack = rng.random((3, *shape)).astype(np.float32) - 0.2
    ref = forward_project(stack, views=views, detectors=detectors, method="gather")
    new = forward_project(stack, views=views, detectors=detectors, method="sparse")
    assert new.shape == ref.shape == (3, views, detectors or default_detector_count(shape))
    np.testing.assert_allclose(new, ref, rtol=0, atol=2e-5 * np.abs(ref).max())
    sino = rng.standard_normal(ref.shape).astype(np.float32)
    back_ref = fbp(sino, shape=shape, method="gather")
    back_new = fbp(sino, shape=shape, method="sparse")
    np.testing.assert_allclose(back_new, back_ref, rtol=0, atol=2e-5 * np.abs(back_ref).max())


def test_sparse_projector_sees_every_view_and_pixel() -> None:
    # one bright pixel off-centre: every view sees its mass (within Joseph's sampling error), centred
    # on the bin x cos + y sin (a symmetry applied the wrong way would move or lose it)
    im = np.zeros((21, 21), dtype=np.float32)
    im[4, 15] = 1.0  # x = 5, y = 6
    views = 16
    sino = forward_project(im, views=views, method="sparse")
    assert np.all(np.abs(sino.sum(axis=1) - 1.0) < 0.2)
    nd = sino.shape[1]
    theta = np.arange(views) * np.pi / views
    centre = 5 * np.cos(theta) + 6 * np.sin(theta) + (nd - 1) / 2.0
    mean_bin = (sino * np.arange(nd)).sum(axis=1) / sino.sum(axis=1)
    np.testing.assert_allclose(mean_bin, centre, atol=0.35)  # Joseph sampling: < 0.3 bin


def test_unknown_projector_method_raises() -> None:
    with pytest.raises(ConfigError, match="method"):
        forward_project(np.zeros((8, 8)), views=4, method="astra")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="method"):
        fbp(np.zeros((4, 13)), shape=(8, 8), method="astra")  # type: ignore[arg-type]


def test_batches_are_balanced() -> None:
    from medsr.degrade.ct_projector import balanced_batch

    # 16 slices with room for 15: two batches of 8, not 15 + 1 (a lone slice pays for the weights)
    assert balanced_batch(16, 15) == 8
    assert balanced_batch(48, 22) == 16
    assert balanced_batch(5, 100) == 5
    assert balanced_batch(7, 1) == 1
