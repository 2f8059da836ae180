"""Fixtures of the report tests: a demo folder, an evaluation folder and a training run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report._fixtures import make_demo, make_train_run


@pytest.fixture(scope="module")
def demo_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo folder (3D MR training-scan case + 2D CT held-out case); do not write into it."""
    return make_demo(tmp_path_factory.mktemp("demo") / "demo")


@pytest.fixture(scope="module")
def demo_report(demo_src: Path, tmp_path_factory: pytest.TempPathFactory):
    """The report of :func:`demo_src`, written into a separate folder."""
    from medsr.report import build_report

    out = tmp_path_factory.mktemp("demo_report")
    return build_report(demo_src, out_dir=out)


@pytest.fixture
def train_run(tmp_path: Path) -> Path:
    """A finished fake training run folder."""
    make_train_run(tmp_path / "run")
    return tmp_path / "run"
