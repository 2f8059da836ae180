"""Models own their inference forms: ``prepare_for_inference`` calls their hook, and ``infer/``
knows no model class."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import medsr.infer
from medsr.infer.optimize import prepare_for_inference
from medsr.nn.inference import apply_inference_forms, splits_cpu_batches


class _Doubled(nn.Module):
    """The toy's inference form: shares its linear layer, remembers the options it got."""

    splits_cpu_batches = True

    def __init__(self, inner: nn.Linear, options: dict[str, Any]) -> None:
        super().__init__()
        self.inner = inner
        self.options = options

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2.0 * self.inner(x)


class _Toy(nn.Module):
    """``y = inner(x) + inner(x)``, whose inference form computes it once and doubles it."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x) + self.inner(x)

    def inference_form(self, *, use_form: bool = True, **options: Any) -> nn.Module | None:
        return _Doubled(self.inner, {"use_form": use_form, **options}) if use_form else None


class _Renamed(nn.Module):
    """A hook that rewrites in place and lets the walk go on into its children."""

    def __init__(self) -> None:
        super().__init__()
        self.toy = _Toy()
        self.rewritten = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.toy(x)

    def inference_form(self, **options: Any) -> nn.Module | None:
        self.rewritten = True
        return None


def test_prepare_for_inference_uses_a_modules_own_inference_form() -> None:
    model = nn.Sequential(nn.Identity(), _Renamed())
    fast = prepare_for_inference(model, channels_last=True, form_options={"extra": 7})
    wrapper = fast[1]
    assert isinstance(wrapper, _Renamed) and wrapper.rewritten  # rewritten in place
    form = wrapper.toy
    assert isinstance(form, _Doubled)  # replaced in its parent, one level down
    assert form.options == {
        "use_form": True,
        "extra": 7,
        "device": torch.device("cpu"),
        "channels_last": True,
        "buffered": True,
        "fold_shuffle": True,
    }
    assert splits_cpu_batches(form) and not splits_cpu_batches(wrapper)
    x = torch.rand(2, 3, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(fast(x), model(x))
    # the caller's module is untouched, and the hook can decline
    assert isinstance(model[1].toy, _Toy) and not model[1].rewritten
    plain = prepare_for_inference(model, form_options={"use_form": False})
    assert isinstance(plain[1].toy, _Toy)
    # the root's own form is returned; a form is final (its subtree is not walked again)
    root = apply_inference_forms(_Toy())
    assert isinstance(root, _Doubled) and isinstance(root.inner, nn.Linear)
    with pytest.raises(ValueError, match="buffered"):
        prepare_for_inference(model, form_options={"buffered": False})


def test_infer_imports_no_model_class() -> None:
    """``infer/`` runs any module uniformly: no import from the model packages, and no model
    class named in its code (docstrings aside)."""
    from medsr.models import discriminators, generators

    classes = {
        name
        for package in (generators, discriminators)
        for name, obj in vars(package).items()
        if inspect.isclass(obj) and issubclass(obj, nn.Module)
    }
    classes |= {"BufferedMDCSRN"}
    assert {"MDCSRN", "SRResNet"} <= classes
    root = Path(medsr.infer.__file__).parent
    found = []
    for path in sorted(root.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            found += [
                f"{path.name}: imports {m}"
                for m in modules
                if m.startswith(("medsr.models.generators", "medsr.models.discriminators"))
            ]
            name = (
                node.id
                if isinstance(node, ast.Name)
                else node.attr
                if isinstance(node, ast.Attribute)
                else None
            )
            if isinstance(node, ast.alias):
                name = node.asname or node.name
            if name in classes:
                found.append(f"{path.name}:{getattr(node, 'lineno', '?')}: names {name}")
    assert not found, found
