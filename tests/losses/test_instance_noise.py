"""Instance-noise schedules and sampling."""

from __future__ import annotations

import pytest
import torch

from medsr.losses import InstanceNoise


def test_linear_schedule_values() -> None:
    noise = InstanceNoise(std=1.0, steps=10)
    assert [noise.std_at(s) for s in (0, 5, 9, 10, 50)] == pytest.approx([1.0, 0.5, 0.1, 0.0, 0.0])


def test_exponential_schedule_values() -> None:
    noise = InstanceNoise(std=2.0, steps=10, schedule="exponential", final_ratio=0.01)
    assert [noise.std_at(s) for s in (0, 5, 10)] == pytest.approx([2.0, 0.2, 0.0])
    assert noise.std_at(3) > noise.std_at(4) > 0


def test_shared_seeded_noise_with_scheduled_std() -> None:
    noise = InstanceNoise(std=1.0, steps=4)
    real, fake = torch.zeros(4, 1, 50, 50), torch.ones(4, 1, 50, 50)
    state = torch.get_rng_state()
    a_real, a_fake = noise(real, fake, step=2, generator=torch.Generator().manual_seed(0))
    b_real, _ = noise(real, fake, step=2, generator=torch.Generator().manual_seed(0))
    c_real, _ = noise(real, fake, step=2, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(torch.get_rng_state(), state)
    torch.testing.assert_close(a_real, b_real, rtol=0, atol=0)
    assert not torch.equal(a_real, c_real)
    torch.testing.assert_close(a_fake - fake, a_real - real)  # one sample for both
    assert abs(a_real.std().item() - 0.5) < 0.02


def test_off_after_schedule() -> None:
    noise = InstanceNoise(std=1.0, steps=3)
    x = torch.rand(2, 1, 4, 4)
    (out,) = noise(x, step=3, generator=torch.Generator())
    torch.testing.assert_close(out, x, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": 0}, "steps"),
        ({"steps": 5, "std": -1.0}, "std"),
        ({"steps": 5, "schedule": "cosine"}, "schedule"),
        ({"steps": 5, "final_ratio": 1.5}, "final_ratio"),
    ],
)
def test_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        InstanceNoise(**kwargs)  # type: ignore[arg-type]


def test_call_errors() -> None:
    noise = InstanceNoise(steps=2)
    with pytest.raises(ValueError, match="one shape"):
        noise(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 3), step=0, generator=torch.Generator())
    with pytest.raises(ValueError, match="step"):
        noise.std_at(-1)
