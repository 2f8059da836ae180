"""Screenshot an HTML report with Debian's headless Chromium.

Usage::

    python scripts/screenshot_report.py REPORT.html OUT.png [--width 1280] [--height 2000]

Runs ``chromium --headless --screenshot`` with a fresh temporary profile, no network services
and no GPU. Exits with 2 and a one-line message when Chromium is missing or fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium(explicit: str | None = None) -> str | None:
    """The Chromium executable: ``explicit``, ``$CHROMIUM``, or the first of :data:`CANDIDATES`."""
    for name in (explicit, os.environ.get("CHROMIUM"), *CANDIDATES):
        if name:
            found = shutil.which(name)
            if found:
                return found
    return None


def screenshot(
    html: Path,
    out: Path,
    *,
    width: int = 1280,
    height: int = 2000,
    chromium: str | None = None,
    timeout: float = 120.0,
) -> Path:
    """Render ``html`` at ``width`` x ``height`` CSS pixels and save a PNG screenshot to ``out``.

    Args:
        html: The HTML file.
        out: The PNG to write (its folder is created).
        width: Viewport width in pixels.
        height: Viewport height in pixels (the screenshot shows the top of the page).
        chromium: Chromium executable (default: found on PATH).
        timeout: Seconds before Chromium is stopped.

    Returns:
        ``out``.

    Raises:
        RuntimeError: If Chromium is missing, fails, or writes no screenshot.
    """
    exe = find_chromium(chromium)
    if exe is None:
        raise RuntimeError(
            "chromium not found on PATH; install it (Debian: apt-get install chromium) "
            "or set CHROMIUM=/path/to/chrome"
        )
    html = html.resolve()
    if not html.is_file():
        raise RuntimeError(f"{html}: no such file")
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    with tempfile.TemporaryDirectory(prefix="medsr-chromium-") as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={out}",
            html.as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"chromium did not finish within {timeout:g} s") from None
    if proc.returncode != 0 or not out.is_file():
        tail = " ".join((proc.stderr or proc.stdout).split())[-300:]
        raise RuntimeError(
            f"chromium failed (exit {proc.returncode}) and wrote no {out.name}: {tail}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="the report.html to render")
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--width", type=int, default=1280, help="viewport width (default 1280)")
    parser.add_argument("--height", type=int, default=2000, help="viewport height (default 2000)")
    parser.add_argument("--chromium", help="Chromium executable (default: chromium on PATH)")
    args = parser.parse_args(argv)
    try:
        path = screenshot(
            args.html, args.out, width=args.width, height=args.height, chromium=args.chromium
        )
    except RuntimeError as exc:
        print(f"screenshot_report: error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
