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

from medsr.errors import ConfigError

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
    found = checkpoints(run_dir)
    if not found:
        raise ConfigError(f"{run_dir}: no checkpoints/ckpt_*.pt to resume from")
    return found[-1][1]


def rotate(run_dir: Path, *, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest training checkpoints; returns the deleted paths."""
    found = checkpoints(run_dir)
    doomed = [p for _, p in found[: max(0, len(found) - keep)]]
    for p in doomed:
        p.unlink(missing_ok=True)
    return doomed


def prepare_new(run_dir: Path) -> None:
    """Create the folder for a new run.

    Raises:
        ConfigError: When it already holds a run (resume it with --resume or pick --out).
    """
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ConfigError(
            f"{run_dir} already exists and is not empty; resume it with --resume {run_dir} or "
            "choose another --out"
        )
    for sub in (run_dir, checkpoint_dir(run_dir), run_dir / "samples"):
        sub.mkdir(parents=True, exist_ok=True)


def _lookup(cfg: dict[str, Any], key: str) -> tuple[bool, Any]:
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _new_default(stored: dict[str, Any], given: dict[str, Any], key: str) -> bool:
    """A key the run's stored config lacks (written before the option existed) whose value is
    the option's empty default: resuming does not change anything."""
    has_stored, _ = _lookup(stored, key)
    has_given, value = _lookup(given, key)
    return not has_stored and has_given and value in (None, "", False, [], {})


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
    from medsr.config.load import diff_plain

    changed = [
        k
        for k in diff_plain(stored, given)
        if k not in RESUMABLE_CHANGES
        and not k.startswith("train.guard.")
        and not _new_default(stored, given, k)
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
