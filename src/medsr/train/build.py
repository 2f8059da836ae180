"""Building a run's objects from its config: networks, optimisers, losses, precision.

Networks are initialised inside :func:`torch.random.fork_rng` seeded with the experiment seed,
so initial weights depend on the seed only and the caller's global RNG is left untouched.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from medsr.artifact.checkpoint import load_checkpoint
from medsr.artifact.zoo import resolve_model
from medsr.config.recipes import recipe_of
from medsr.config.schema import ExperimentConfig, OptimConfig
from medsr.config.validate import feature_used, registry_for
from medsr.devices import parse_device
from medsr.errors import ConfigError
from medsr.losses import LOSSES, GradientPenalty, InstanceNoise


def resolve_device(name: str, *, local_rank: int = 0) -> torch.device:
    """``auto`` -> ``cuda:<local_rank>`` when available, else ``cpu``; otherwise as named."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")

    dev: torch.device = parse_device(name, option="train.device")
    return dev


def amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype for ``train.amp`` on ``device`` (fp16 needs CUDA)."""
    if mode == "off":
        return None
    if mode == "bf16":
        return torch.bfloat16
    if device.type != "cuda":
        raise ConfigError("train.amp=fp16 needs a CUDA device; use bf16 on the CPU")
    return torch.float16


def build_network(role: str, name: str, kwargs: dict[str, Any]) -> nn.Module:
    """One network from its registry (a feature extractor's ``weights`` file is loaded)."""
    registry = registry_for(role)
    factory = registry.get(name)
    kw = dict(kwargs)
    weights = kw.pop("weights", None) if role == "feature" else None
    if weights and "weights" not in inspect.signature(factory).parameters:
        from_file = getattr(factory, "from_file", None)
        if from_file is None:
            raise ConfigError(f"networks.feature {name!r} cannot load a weights file")
        return from_file(weights, **kw)  # type: ignore[no-any-return]
    if weights:
        kw["weights"] = weights
    try:
        return registry.build(name, **kw)  # type: ignore[no-any-return]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"networks.{role} ({name}): {exc}") from None


def build_networks(cfg: ExperimentConfig, device: torch.device) -> dict[str, nn.Module]:
    """Every network the recipe uses, seeded by ``cfg.seed``, on ``device``, in train mode
    (networks the recipe does not use, e.g. a discriminator in a supervised run, are not built)."""
    used = set(recipe_of(cfg).networks) | ({"feature"} if feature_used(cfg) else set())
    nets: dict[str, nn.Module] = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        for role, comp in cfg.networks.items():
            if role not in used:
                continue
            nets[role] = build_network(role, comp.name, comp.kwargs).to(device).train()
    return nets


#: Generator options that hold no weights and may differ between ``train.init_generator`` and
#: the configured generator (e.g. a DFGAN fine-tune that changes the low-band cut-off).
WEIGHTLESS_OPTIONS = frozenset({"keep_low_band"})


def _with_weights(kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(kwargs).items() if k not in WEIGHTLESS_OPTIONS}


def init_generator(cfg: ExperimentConfig, generator: nn.Module) -> None:
    """Load ``train.init_generator`` (a checkpoint path or bundled model name) into ``generator``.

    The two must be the same network; only :data:`WEIGHTLESS_OPTIONS` may differ, and with
    ``train.init_widen`` also ``features`` (the generator's ``load_narrower`` widens the
    checkpoint's weights, keeping their function).

    Raises:
        ConfigError: When the checkpoint's generator is not the configured one.
        InputError: When the checkpoint cannot be read.
    """

    ref = cfg.train.init_generator
    ckpt = load_checkpoint(resolve_model(ref))
    want = cfg.networks["generator"]
    widen = cfg.train.init_widen
    ignore = {"features"} if widen else set()
    have_kw = {k: v for k, v in _with_weights(ckpt.model_kwargs).items() if k not in ignore}
    want_kw = {k: v for k, v in _with_weights(want.kwargs).items() if k not in ignore}
    if ckpt.model_name != want.name or have_kw != want_kw:
        raise ConfigError(
            f"train.init_generator {ref!r} holds {ckpt.model_name} {ckpt.model_kwargs}, but "
            f"networks.generator is {want.name} {dict(want.kwargs)}; use the same architecture"
        )
    if widen:
        load_narrower = getattr(generator, "load_narrower", None)
        if load_narrower is None:
            raise ConfigError(
                f"train.init_widen: networks.generator {want.name} cannot widen a checkpoint "
                "(only the DFGAN U-Net without CBAM can); remove train.init_widen"
            )
        if "features" not in ckpt.model_kwargs:
            raise ConfigError(
                f"train.init_widen: {ref!r} records no 'features' (the widths to widen from)"
            )
        try:
            load_narrower(ckpt.state_dict, ckpt.model_kwargs["features"])
        except ValueError as exc:
            raise ConfigError(f"train.init_widen from {ref!r}: {exc}") from None
        return
    with torch.no_grad():
        for key, value in generator.state_dict().items():
            value.copy_(ckpt.state_dict[key].to(value.dtype))


def trained_roles(cfg: ExperimentConfig, nets: dict[str, nn.Module]) -> list[str]:
    """Roles with an optimiser and trainable parameters."""
    return [
        r for r in nets if r in cfg.optim and any(p.requires_grad for p in nets[r].parameters())
    ]


def build_optimizer(cfg: OptimConfig, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    """The optimiser ``cfg`` names over ``params``."""
    betas = (float(cfg.betas[0]), float(cfg.betas[1]))
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def build_adversarial(cfg: ExperimentConfig) -> tuple[Any, float, Any, Any]:
    """``(adversarial pair, weight, gradient penalty or None, instance noise or None)``."""

    adv = cfg.losses.adversarial
    if adv is None or not recipe_of(cfg).adversarial:
        return None, 0.0, None, None
    pair = LOSSES.build(adv.name, **adv.kwargs)
    penalty = GradientPenalty(weight=adv.gradient_penalty) if adv.gradient_penalty > 0 else None
    noise = None
    if adv.instance_noise is not None:
        n = adv.instance_noise
        noise = InstanceNoise(std=n.std, steps=n.steps, schedule=n.schedule)
    return pair, adv.weight, penalty, noise


@torch.no_grad()
def probe_shapes(
    nets: dict[str, nn.Module], sample: dict[str, torch.Tensor], device: torch.device
) -> None:
    """Run every network once on one training sample (eval mode, no gradients) so a patch
    that does not fit a network fails before training, naming the network.

    Raises:
        ConfigError: With the role, the input shape and the network's message.
    """
    x_lq = sample["x_lq"][None].to(device)
    x_hq = sample["x_hq"][None].to(device)
    feeds = {
        "generator": (x_lq,),
        "generator_lr": (x_hq,),
        "discriminator": (x_hq, x_lq)
        if getattr(nets.get("discriminator"), "difference_input", False)
        else (x_hq,),
        "discriminator_lr": (x_lq,),
        "feature": (x_hq,),
    }
    for role, net in nets.items():
        was = net.training
        net.eval()
        try:
            net(*feeds[role])
        except (ValueError, RuntimeError) as exc:
            shape = tuple(feeds[role][0].shape)
            raise ConfigError(
                f"networks.{role} cannot take a training crop of shape {shape}: {exc}"
            ) from None
        finally:
            net.train(was)
