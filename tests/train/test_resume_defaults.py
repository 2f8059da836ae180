"""Resuming a run written before an option existed: new options at their empty default are no change."""

from __future__ import annotations

import pytest

from medsr.errors import ConfigError
from medsr.train.rundir import check_resume_config


def _cfg(**source: object) -> dict[str, object]:
    return {"data": {"train": [{"scan": "a", **source}, {"scan": "b", **source}]}, "train": {}}


def test_new_option_in_every_source_at_its_default_resumes() -> None:
    stored = _cfg()
    check_resume_config(stored, _cfg(attenuation=False, slice_axis=0))
    check_resume_config(stored, {**_cfg(), "train": {"weight_clip": 0.0}})


def test_new_option_set_away_from_its_default_is_a_change() -> None:
    with pytest.raises(ConfigError, match=r"data\.train"):
        check_resume_config(_cfg(), _cfg(attenuation=True))
    with pytest.raises(ConfigError, match=r"data\.train"):
        check_resume_config(_cfg(), {"data": {"train": [{"scan": "a"}]}, "train": {}})
