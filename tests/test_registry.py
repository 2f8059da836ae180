from __future__ import annotations

import pytest

from medsr.conventions import normalize_scale
from medsr.registry import Registry


def test_registry_get_build_and_did_you_mean() -> None:
    reg: Registry[object] = Registry("widget")
    reg.register("linear", lambda *, k: ("linear", k))
    reg.register("cubic", lambda *, k: ("cubic", k))
    assert reg.names() == ["cubic", "linear"]
    assert reg.build("cubic", k=3) == ("cubic", 3)
    with pytest.raises(KeyError, match="did you mean 'linear'"):
        reg.get("linaer")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("linear", object())


def test_normalize_scale() -> None:
    assert normalize_scale(2, 3) == (2, 2, 2)
    assert normalize_scale((1, 2, 2), 3) == (1, 2, 2)
    with pytest.raises(ValueError, match="expected 1 or 2"):
        normalize_scale((1, 2, 2), 2)
    with pytest.raises(ValueError, match="positive integers"):
        normalize_scale(1.5, 2)
