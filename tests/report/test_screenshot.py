"""The report renders in a real browser: headless Chromium screenshot of a fixture report."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "screenshot_report.py"


@pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="chromium is not installed (Debian: apt-get install chromium)",
)
def test_chromium_screenshot_of_the_report(demo_report, tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "shot.png"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            str(demo_report.html),
            str(out),
            "--width",
            "1000",
            "--height",
            "1400",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out.resolve())
    with Image.open(out) as im:
        assert im.size == (1000, 1400)
        pixels = np.asarray(im.convert("RGB"), dtype=np.float64)
    assert pixels.std() > 20, "the screenshot is blank"
    top = pixels[:80].reshape(-1, 3).mean(axis=0)
    assert top.max() < 80, "the dark title bar is not at the top"


def test_screenshot_script_fails_clearly_without_chromium(tmp_path: Path) -> None:
    html = tmp_path / "r.html"
    html.write_text("<p>x</p>")
    env = {"PATH": str(tmp_path), "CHROMIUM": ""}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(html), str(tmp_path / "o.png")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "chromium not found on PATH" in proc.stderr
    assert not (tmp_path / "o.png").exists()
