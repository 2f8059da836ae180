"""``benchmarks/quality.py --mri-models``: re-run only the MRI models whose weights changed."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests._phantoms import load_script

quality = load_script("benchmarks/quality.py")


def _earlier(tmp_path: Path) -> Path:
    models = {
        name: {"cases": [f"{name}__old"], "summary": []}
        for name in (
            "mdcsrn-t1-k2-wgan",
            "mdcsrn-t1-k2",
            "srgan-t1-x2",
            "dfgan-ct-qd",
            "attn-dfgan-ct-qd",
        )
    }
    path = tmp_path / "earlier.json"
    path.write_text(json.dumps({"models": models}))
    return path


def test_mri_models_reruns_the_named_pair_and_reuses_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import medsr.demo

    calls: list[dict[str, Any]] = []

    def fake_run_demo(out_dir: Path, **kwargs: Any) -> SimpleNamespace:
        calls.append(kwargs)
        return SimpleNamespace(out_dir=out_dir)

    monkeypatch.setattr(medsr.demo, "run_demo", fake_run_demo)
    monkeypatch.setattr(
        quality, "summarise", lambda out_dir: {"srgan-t1-x2": {"cases": ["new"], "summary": []}}
    )
    earlier = _earlier(tmp_path)
    out = tmp_path / "q.json"
    result = quality.main([
        "--reuse-mri", str(earlier), "--reuse-ct", str(earlier), "--out", str(out),
        "--mri-models", "srgan-t1-x2-psnr", "srgan-t1-x2",
    ])  # fmt: skip
    assert len(calls) == 1 and calls[0]["models"] == ["srgan-t1-x2-psnr", "srgan-t1-x2"]
    assert calls[0]["scans"] == ["pycortex_s1"] and calls[0]["ct_scans"] == []
    assert result["models"]["srgan-t1-x2"]["cases"] == ["new"]  # re-run, not the earlier row
    assert result["models"]["mdcsrn-t1-k2"]["cases"] == ["mdcsrn-t1-k2__old"]
    assert "srgan-t1-x2" not in result["mri_reused_from"]
    assert json.loads(out.read_text())["models"].keys() == result["models"].keys()


@pytest.mark.parametrize(
    "extra", [["--mri-models", "srgan-t1-x2"], ["--reuse-mri", "EARLIER", "--mri-models", "nope"]]
)
def test_mri_models_refuses_without_reuse_or_for_unknown_models(
    tmp_path: Path, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    earlier = str(_earlier(tmp_path))
    with pytest.raises(SystemExit) as exc:
        quality.main([earlier if a == "EARLIER" else a for a in extra])
    assert exc.value.code == 2
    assert "--mri-models" in capsys.readouterr().err
