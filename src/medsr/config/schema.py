"""The experiment config: typed sections, each with its own local checks.

Components (networks, losses, degradations) are named by registry key plus keyword arguments.
Cross-section checks (registry names, argument binding, recipe requirements) live in
:mod:`medsr.config.validate`; ``docs/training.md`` documents every key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from medsr.errors import ConfigError

#: Network roles a config may define.
ROLES: tuple[str, ...] = (
    "generator",
    "discriminator",
    "generator_lr",
    "discriminator_lr",
    "feature",
)


def _positive(path: str, **values: float) -> None:
    for name, v in values.items():
        if not v > 0:
            raise ConfigError(f"{path}.{name} must be > 0, got {v!r}")


def _non_negative(path: str, **values: float) -> None:
    for name, v in values.items():
        if not v >= 0:
            raise ConfigError(f"{path}.{name} must be >= 0, got {v!r}")


@dataclass
class ComponentConfig:
    """A registry key and the keyword arguments of its constructor."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class IntensityConfig:
    """:class:`~medsr.data.intensity.IntensityNorm` fields."""

    kind: Literal["hu-window", "percentile", "minmax", "minmax-symmetric"] = "percentile"
    lo: float = -1024.0
    hi: float = 3072.0
    q: float = 99.5


@dataclass
class TaskConfig:
    """What the generator does: modality, 2D/3D, per-axis scale ``(sd, sh, sw)``."""

    modality: Literal["MR", "CT", "XR"]
    spatial_dims: Literal[2, 3]
    scale: list[int] = field(default_factory=lambda: [1, 1, 1])
    intensity: IntensityConfig = field(default_factory=IntensityConfig)

    def __post_init__(self) -> None:
        if len(self.scale) != 3 or any(s < 1 for s in self.scale):
            raise ConfigError(
                f"task.scale must be three positive ints (sd, sh, sw), got {self.scale}"
            )
        if self.spatial_dims == 2 and self.scale[0] != 1:
            raise ConfigError(f"task.scale[0] must be 1 for a 2D task, got {self.scale}")


@dataclass
class SourceConfig:
    """One scan: a catalogue name or a file, optionally paired with a low-quality file.

    ``lq`` is the path of the paired low-quality scan (``data.mode: paired``); with
    ``format: paired_ct`` the ``scan`` file holds both (``{'f_nd', 'f_qd'}``); there
    ``attenuation: true`` converts linear attenuation (1/mm) to HU and ``slice_axis`` names the
    array axis the slices are stacked along (the DFGAN data: ``(H, W, N)``, so 2). ``region`` keeps
    ``[[d0, d1], [h0, h1], [w0, w1]]`` of the loaded volume (None keeps all). ``subject`` names
    the subject for splits (default: the scan name). ``slice_tolerance`` (mm) accepts a DICOM
    series whose slice gaps deviate from the mean spacing by up to that much (the reader's
    ``slice_tolerance``; default: what the rounding of the written positions explains).
    ``zoom`` (an integer, ``data.mode: degrade`` only) refines the scan's H and W axes by that
    factor with Keys cubic interpolation (pixels ``zoom`` times finer over the same field of view)
    before ``region`` and the degradation: a finer-pixel copy of a scan, whose simulated noise (CT
    quarter dose, for one) has the texture and level that finer pixels give.
    """

    scan: str
    lq: str = ""
    format: Literal["auto", "paired_ct"] = "auto"
    subject: str = ""
    region: list[list[int]] | None = None
    attenuation: bool = False
    slice_axis: int = 0
    slice_tolerance: float | None = None
    zoom: int = 1

    def __post_init__(self) -> None:
        if not self.scan:
            raise ConfigError("data source: 'scan' must name a catalogue scan or a file")
        if isinstance(self.zoom, bool) or not isinstance(self.zoom, int) or self.zoom < 1:
            raise ConfigError(
                f"data source {self.scan!r}: zoom must be an integer >= 1, got {self.zoom!r}"
            )
        if self.zoom > 1 and (self.lq or self.format == "paired_ct"):
            raise ConfigError(
                f"data source {self.scan!r}: zoom refines a scan before its degradation; a paired "
                "low-quality scan cannot be zoomed with it (drop zoom, or use data.mode: degrade)"
            )
        if (self.attenuation or self.slice_axis) and self.format != "paired_ct":
            raise ConfigError(
                f"data source {self.scan!r}: attenuation and slice_axis describe a "
                "{'f_nd', 'f_qd'} file; add format: paired_ct"
            )
        if self.slice_axis not in (0, 1, 2, -1):
            raise ConfigError(
                f"data source {self.scan!r}: slice_axis must be 0, 1, 2 or -1, got {self.slice_axis}"
            )
        if self.slice_tolerance is not None and not self.slice_tolerance >= 0:
            raise ConfigError(
                f"data source {self.scan!r}: slice_tolerance must be >= 0 mm, "
                f"got {self.slice_tolerance}"
            )
        if self.region is not None and (
            len(self.region) != 3 or any(len(r) != 2 or not 0 <= r[0] < r[1] for r in self.region)
        ):
            raise ConfigError(
                f"data source {self.scan!r}: region must be [[d0, d1], [h0, h1], [w0, w1]] with "
                f"0 <= start < stop, got {self.region}"
            )

    @property
    def subject_id(self) -> str:
        return self.subject or self.scan


@dataclass
class StageConfig:
    """One degradation: a :data:`~medsr.degrade.DEGRADATIONS` key and its arguments."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class DegradeConfig:
    """How low-quality inputs are made from high-quality scans.

    ``level: volume`` degrades whole volumes once per realization (cached; ``realizations``
    noise draws per volume, one picked per sample); ``level: sample`` degrades every training
    crop with its own seed (cheap stages only). Validation always uses one fixed draw per case.
    ``units: network`` applies the stages to the normalised volume (relative noise levels for
    MRI); ``scanner`` (HU for CT, required by the low-dose CT simulation) is the default.
    """

    stages: list[StageConfig]
    level: Literal["volume", "sample"] = "volume"
    realizations: int = 1
    units: Literal["scanner", "network"] = "scanner"

    def __post_init__(self) -> None:
        _positive("data.degradation", realizations=self.realizations)


@dataclass
class SamplerConfig:
    """Training crops: ``patch`` in high-quality voxels (``spatial_dims`` values)."""

    patch: list[int]
    axis: int = 0
    foreground: float = 0.9
    foreground_threshold: float = 0.1
    samples_per_epoch: int = 1024

    def __post_init__(self) -> None:
        if not self.patch or any(p < 1 for p in self.patch):
            raise ConfigError(f"data.sampler.patch must be positive ints, got {self.patch}")
        if self.axis not in (0, 1, 2):
            raise ConfigError(f"data.sampler.axis must be 0, 1 or 2, got {self.axis}")
        if not 0.0 <= self.foreground <= 1.0:
            raise ConfigError(f"data.sampler.foreground must be in [0, 1], got {self.foreground}")
        _positive("data.sampler", samples_per_epoch=self.samples_per_epoch)


@dataclass
class AugmentConfig:
    """Random flips along every spatial axis and rot90 in the last two axes."""

    flip: bool = True
    rot90: bool = True


@dataclass
class SplitConfig:
    """Seeded subject-level split of ``data.train`` into train and validation subjects."""

    val_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"data.split.val_fraction must be in (0, 1), got {self.val_fraction}")


@dataclass
class ResizeConfig:
    """2D tasks: every high-quality slice is cropped to a centred square of side ``min(H, W)``
    (``square_crop``) and resampled to ``size`` ``(H, W)`` before degradation, sampling and
    validation (the x3 SRGAN report: square crop, then 150x150)."""

    size: list[int]
    square_crop: bool = True

    def __post_init__(self) -> None:
        if len(self.size) != 2 or any(n < 1 for n in self.size):
            raise ConfigError(f"data.resize.size must be two positive ints (H, W), got {self.size}")


@dataclass
class DataConfig:
    """Training and validation data."""

    mode: Literal["degrade", "paired", "unpaired"]
    train: list[SourceConfig]
    sampler: SamplerConfig
    val: list[SourceConfig] = field(default_factory=list)
    train_lq: list[SourceConfig] = field(default_factory=list)
    split: SplitConfig | None = None
    degradation: DegradeConfig | None = None
    resize: ResizeConfig | None = None
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    batch_size: int = 4
    workers: int = 0
    val_crop: list[int] | None = None
    val_slices: int = 4

    def __post_init__(self) -> None:
        if not self.train:
            raise ConfigError("data.train must list at least one scan")
        _positive("data", batch_size=self.batch_size, val_slices=self.val_slices)
        _non_negative("data", workers=self.workers)


@dataclass
class TermConfig:
    """A weighted generator loss term from :data:`~medsr.losses.LOSSES`.

    ``space: difference`` evaluates the term on ``pred - x_lq`` against ``x_hq - x_lq`` (DFGAN).
    ``pretrain: false`` leaves the term out of the pixel pretraining phase (SRGAN / ESRGAN
    pretrain with the pixel loss alone). A weight of 0 removes the term.
    """

    name: str
    weight: float = 1.0
    kwargs: dict[str, Any] = field(default_factory=dict)
    space: Literal["image", "difference"] = "image"
    pretrain: bool = True


@dataclass
class InstanceNoiseConfig:
    """:class:`~medsr.losses.InstanceNoise` on discriminator inputs (steps of the GAN phase)."""

    std: float = 1.0
    steps: int = 10000
    schedule: Literal["linear", "exponential"] = "linear"


@dataclass
class AdversarialConfig:
    """The GAN objective: an adversarial pair from :data:`~medsr.losses.LOSSES` and its weight."""

    name: Literal["vanilla", "lsgan", "hinge", "ragan", "wgan"]
    weight: float
    kwargs: dict[str, Any] = field(default_factory=dict)
    gradient_penalty: float = 0.0
    instance_noise: InstanceNoiseConfig | None = None

    def __post_init__(self) -> None:
        _non_negative("losses.adversarial", weight=self.weight, gp=self.gradient_penalty)


@dataclass
class CycleConfig:
    """Cycle recipe weights (SRResCycGAN): cycle L1, the degrading generator's (G_LQ) pixel L1 and
    adversarial term. ``lq_*`` was ``lr_*`` before (``lr`` is the learning rate here); configs
    with the old keys still load (:func:`medsr.config.load.config_from_plain`)."""

    weight: float = 10.0
    lq_pixel: float = 10.0
    lq_adversarial: float = 5e-3


@dataclass
class LossConfig:
    """Generator terms (by name), the adversarial objective, and the cycle weights."""

    terms: dict[str, TermConfig]
    adversarial: AdversarialConfig | None = None
    cycle: CycleConfig | None = None


@dataclass
class ScheduleConfig:
    """Learning-rate factor over steps: ``constant``, ``multistep`` (``gamma`` at each
    milestone), ``cosine`` (to ``final_factor``), ``linear`` (to ``final_factor``); optional
    linear ``warmup`` steps."""

    kind: Literal["constant", "multistep", "cosine", "linear"] = "constant"
    milestones: list[int] = field(default_factory=list)
    gamma: float = 0.5
    final_factor: float = 0.0
    warmup: int = 0


@dataclass
class OptimConfig:
    """One network's optimiser, gradient clipping and learning-rate schedule."""

    lr: float
    name: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    weight_decay: float = 0.0
    momentum: float = 0.0
    grad_clip: float = 0.0
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)

    def __post_init__(self) -> None:
        _positive("optim", lr=self.lr)
        _non_negative("optim", weight_decay=self.weight_decay, grad_clip=self.grad_clip)
        if len(self.betas) != 2:
            raise ConfigError(f"optim.betas needs two values, got {self.betas}")


@dataclass
class EMAConfig:
    """Exponential moving average of the generator weights (saved for inference)."""

    decay: float = 0.999
    start: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.decay < 1.0:
            raise ConfigError(f"train.ema.decay must be in (0, 1), got {self.decay}")


@dataclass
class GuardConfig:
    """Divergence guard (``train/guard.py``); a ``*_steps`` of 0 disables that check."""

    enabled: bool = True
    collapse_d_loss: float = 1e-3
    collapse_g_adv: float = 10.0
    collapse_steps: int = 50
    constant_std: float = 1e-6
    constant_steps: int = 20
    spike_factor: float = 20.0
    spike_window: int = 200
    spike_steps: int = 3
    lr_factor: float = 0.5
    max_recoveries: int = 3

    def __post_init__(self) -> None:
        if not 0.0 < self.lr_factor <= 1.0:
            raise ConfigError(f"train.guard.lr_factor must be in (0, 1], got {self.lr_factor}")
        if self.spike_steps > 0 and (self.spike_factor <= 1.0 or self.spike_window < 10):
            raise ConfigError(
                "train.guard needs spike_factor > 1 and spike_window >= 10 "
                f"(got {self.spike_factor}, {self.spike_window}); spike_steps: 0 disables the check"
            )


@dataclass
class TrainConfig:
    """The loop: recipe, length, phases, update ratios, EMA, precision, guard.

    ``channels_last``: networks and batches in the channels-last memory format (None: on the CPU,
    where oneDNN trains convolutions about 1.6x faster in it). ``init_generator``: start the
    generator from this checkpoint or bundled model name (a GAN stage from its content-loss stage,
    as SRGAN and ESRGAN do); its architecture must match ``networks.generator``, except that with
    ``init_widen`` a generator that can widen itself (``load_narrower``: the DFGAN U-Nets without
    CBAM) starts from a checkpoint of the same network with fewer channels per level, its
    function kept (the new channels start disconnected from the old ones).
    ``weight_clip``: clamp every discriminator parameter to ``[-c, c]`` after each of its updates
    (the original WGAN's Lipschitz constraint, ``c = 0.01``; recipe ``wgan``); 0 disables it.
    ``recipe`` names a :class:`~medsr.config.recipes.RecipeSpec` and ``options`` is its own
    section (checked against the recipe's dataclass; empty for the built-in recipes).
    """

    recipe: str
    steps: int
    pretrain_steps: int = 0
    d_warmup_steps: int = 0
    n_critic: int = 1
    burst_every: int = 0
    burst_steps: int = 0
    ema: EMAConfig | None = None
    amp: Literal["off", "bf16", "fp16"] = "off"
    device: str = "auto"
    channels_last: bool | None = None
    init_generator: str = ""
    init_widen: bool = False
    deterministic: bool = False
    log_every: int = 10
    weight_clip: float = 0.0
    guard: GuardConfig = field(default_factory=GuardConfig)
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _positive("train", steps=self.steps, n_critic=self.n_critic, log_every=self.log_every)
        _non_negative(
            "train",
            pretrain_steps=self.pretrain_steps,
            d_warmup_steps=self.d_warmup_steps,
            burst_every=self.burst_every,
            burst_steps=self.burst_steps,
            weight_clip=self.weight_clip,
        )
        if self.init_widen and not self.init_generator:
            raise ConfigError(
                "train.init_widen needs train.init_generator (the narrower checkpoint)"
            )


@dataclass
class ValConfig:
    """Validation: every ``every`` steps under ``protocol``; the best checkpoint by ``metric``.

    ``window`` is the sliding-window size in low-quality voxels for 3D (default: the training
    patch); ``panels`` saves PNG sample panels.
    """

    every: int = 500
    protocol: str = "unit-range"
    metric: Literal["psnr", "ssim", "nrmse", "mae", "hfen"] = "psnr"
    mode: Literal["max", "min"] = "max"
    window: list[int] | None = None
    panels: bool = True

    def __post_init__(self) -> None:
        _positive("val", every=self.every)


@dataclass
class CheckpointConfig:
    """Checkpoint every ``every`` steps; keep the ``keep_last`` newest plus ``best.pt``."""

    every: int = 500
    keep_last: int = 3

    def __post_init__(self) -> None:
        _positive("checkpoint", every=self.every, keep_last=self.keep_last)


@dataclass
class ExperimentConfig:
    """A whole experiment (see ``docs/training.md``)."""

    name: str
    task: TaskConfig
    data: DataConfig
    networks: dict[str, ComponentConfig]
    losses: LossConfig
    optim: dict[str, OptimConfig]
    train: TrainConfig
    description: str = ""
    seed: int = 0
    val: ValConfig = field(default_factory=ValConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
