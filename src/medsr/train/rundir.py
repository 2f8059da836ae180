"""The run folder: where everything a run writes lives, and how checkpoints rotate.

::

    RUN_DIR/
      config.yaml            resolved config (what ran)
      log.jsonl              every step's scalars and every event
      checkpoints/ckpt_XXXXXXXX.pt   last K training checkpoints (with train_state)
      best.pt                best validation checkpoint (inference only)
      model.pt               final weights (inference only; EMA weights when EMA is on)
      samples/step_XXXXXXXX.png      validation panels: input | prediction | reference
      summary.json           end-of-run summary
      tensorboard/           when TensorBoard is installed
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from medsr.artifact.checkpoint import load_checkpoint
from medsr.config.load import diff_plain, migrate_plain
from medsr.errors import ConfigError, InputError
from medsr.io.atomic import clean_partials as clean

_CKPT = re.compile(r"^ckpt_(\d{8})\.pt$")

#: Config keys a resumed run may change (they do not change the trained weights).
RESUMABLE_CHANGES = (
    "train.steps",
    "train.log_every",
    "train.device",
    "data.workers",
    "val.every",
    "val.panels",
    "checkpoint.every",
    "checkpoint.keep_last",
)


#: Schedule boundaries a resumed run may move while it has reached neither the old nor the new one
#: (the steps already taken are then the same under both schedules).
MOVABLE_BOUNDARIES = ("train.pretrain_steps", "train.d_warmup_steps")


def _boundary(cfg: dict[str, Any], key: str) -> int:
    train = cfg.get("train", {})
    pre = int(train.get("pretrain_steps", 0) or 0)
    return pre if key == "train.pretrain_steps" else pre + int(train.get("d_warmup_steps", 0) or 0)


def checkpoint_dir(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return checkpoint_dir(run_dir) / f"ckpt_{step:08d}.pt"


def checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of the training checkpoints, oldest first."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _CKPT.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(run_dir: Path) -> Path:
    """The newest training checkpoint.

    Raises:
        ConfigError: When the folder holds none.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: is a file; --resume takes the run folder of medsr train")
    found = checkpoints(run_dir)
    if not found:
        raise ConfigError(f"{run_dir}: no checkpoints/ckpt_*.pt to resume from")
    return found[-1][1]


def load_resume_checkpoint(run_dir: Path) -> Any:
    """The newest training checkpoint, checked to hold what a resume needs.

    Raises:
        ConfigError: When the folder holds no checkpoint.
        InputError: Naming the checkpoint, when it is unreadable or lacks the training state or
            the run's config (an inference checkpoint such as ``model.pt`` copied there).
    """

    path = latest_checkpoint(run_dir)
    ckpt = load_checkpoint(path)
    state = ckpt.train_state
    if not isinstance(state, dict) or not {"step", "networks", "optimizers", "rng"} <= set(state):
        raise InputError(
            path,
            "holds no training state (an inference checkpoint?); --resume needs a "
            "checkpoints/ckpt_*.pt written by medsr train",
        )
    if not isinstance(ckpt.config, dict) or not ckpt.config:
        raise InputError(path, "holds no run config; --resume needs a checkpoint of medsr train")
    return ckpt


def clean_partials(run_dir: Path) -> list[Path]:
    """Remove the hidden temporary files and lock files a killed run left in ``run_dir``.

    Only partials of :mod:`medsr.io.atomic`'s naming whose writer process is gone are removed
    (checkpoints, samples, config and summary included).

    Returns:
        The removed paths.
    """

    return clean(run_dir, recursive=True)


def rotate(run_dir: Path, *, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest training checkpoints; returns the deleted paths."""
    found = checkpoints(run_dir)
    doomed = [p for _, p in found[: max(0, len(found) - keep)]]
    for p in doomed:
        p.unlink(missing_ok=True)
    return doomed


def check_new(run_dir: Path) -> None:
    """Refuse a folder that cannot hold a new run (before any work is done).

    Raises:
        ConfigError: When it is a file or already holds something (resume it with --resume or
            pick another --out).
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: is a file; --out takes a folder for the new run")
    if run_dir.is_dir() and any(run_dir.iterdir()):
        raise ConfigError(
            f"{run_dir} already exists and is not empty; resume it with --resume {run_dir} or "
            "choose another --out"
        )


def prepare_new(run_dir: Path) -> bool:
    """Create the folder for a new run; returns whether ``run_dir`` itself was created.

    Raises:
        ConfigError: When it already holds a run (resume it with --resume or pick --out).
    """
    check_new(run_dir)
    made = not run_dir.exists()
    for sub in (run_dir, checkpoint_dir(run_dir), run_dir / "samples"):
        sub.mkdir(parents=True, exist_ok=True)
    return made


def discard_new(run_dir: Path, *, made: bool) -> bool:
    """Remove what a new run wrote when it failed before its first checkpoint.

    Such a folder could be neither resumed (no checkpoint) nor reused (not empty). A folder that
    already holds a checkpoint is kept (``--resume`` continues it).

    Args:
        run_dir: The run folder that :func:`prepare_new` set up.
        made: Its return value: remove the folder itself, or (it existed empty) only its content.

    Returns:
        Whether anything was removed.
    """
    import shutil

    if not run_dir.is_dir() or checkpoints(run_dir):
        return False
    if made:
        shutil.rmtree(run_dir, ignore_errors=True)
        return True
    for child in list(run_dir.iterdir()):
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
    return True


def _fill_new_defaults(stored: Any, given: Any) -> Any:
    """``stored`` with the keys it lacks taken from ``given`` where those hold an empty default,
    also inside lists of the same length (an option added to every data source later)."""
    if isinstance(stored, dict) and isinstance(given, dict):
        out = {k: _fill_new_defaults(v, given.get(k)) for k, v in stored.items()}
        for k, v in given.items():
            if k not in stored and v in (None, "", False, [], {}):
                out[k] = v
        return out
    if isinstance(stored, list) and isinstance(given, list) and len(stored) == len(given):
        return [_fill_new_defaults(a, b) for a, b in zip(stored, given, strict=True)]
    return stored


def check_resume_config(
    stored: dict[str, Any], given: dict[str, Any], *, step: int | None = None
) -> None:
    """Refuse a resume whose config changes anything beyond :data:`RESUMABLE_CHANGES` and the
    divergence guard's thresholds (``train.guard.*``: they watch, they do not train).

    With the run's current ``step``, a schedule boundary of :data:`MOVABLE_BOUNDARIES` may also
    move (e.g. a longer pretraining phase) as long as the run has reached neither the old nor the
    new boundary.

    Raises:
        ConfigError: Listing the changed keys.
    """

    stored = _fill_new_defaults(migrate_plain(stored), given)  # renamed keys, new empty defaults
    changed = [
        k
        for k in diff_plain(stored, given)
        if k not in RESUMABLE_CHANGES and not k.startswith("train.guard.")
    ]
    if step is not None:
        changed = [
            k
            for k in changed
            if not (
                k in MOVABLE_BOUNDARIES and step < min(_boundary(stored, k), _boundary(given, k))
            )
        ]
    if changed:
        raise ConfigError(
            f"the config differs from the run's in {changed}; a resumed run may only change "
            f"{list(RESUMABLE_CHANGES)}. Start a new run (--out) to change the others"
        )
