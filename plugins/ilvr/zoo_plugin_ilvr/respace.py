"""Which of the training timesteps a respaced sampler keeps (improved DDPM, Sec. 4)."""

from __future__ import annotations

from zoo_core.errors import ConfigError


def spaced_timesteps(num_train_timesteps: int, respacing: str) -> list[int]:
    """The kept timesteps, descending, as the official ``--timestep_respacing`` selects them.

    ``"100"``: 100 steps spread evenly with fractional stride and rounding (0 and T-1 kept,
    strides of 10 and 11 for 100 of 1000); ``"10,20"``: the range split into equal sections
    with that many steps each; ``"ddim25"``: the integer stride giving exactly 25 steps.
    """
    text = respacing.strip()
    if text.startswith("ddim"):
        wanted = _count(text[4:], respacing)
        for stride in range(1, num_train_timesteps):
            if len(range(0, num_train_timesteps, stride)) == wanted:
                return sorted(range(0, num_train_timesteps, stride), reverse=True)
        raise ConfigError(f"timestep_respacing {respacing!r}: no integer stride gives {wanted} of {num_train_timesteps} steps")
    counts = [_count(part, respacing) for part in text.split(",")]
    base, extra = divmod(num_train_timesteps, len(counts))
    kept: set[int] = set()
    start = 0
    for index, count in enumerate(counts):
        size = base + (1 if index < extra else 0)
        if size < count:
            raise ConfigError(f"timestep_respacing {respacing!r}: a section of {size} steps cannot hold {count}")
        stride = (size - 1) / (count - 1) if count > 1 else 1.0
        kept.update(start + round(stride * k) for k in range(count))
        start += size
    return sorted(kept, reverse=True)


def _count(text: str, respacing: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"timestep_respacing {respacing!r}: expected 'N', 'N1,N2,...' or 'ddimN' with N >= 1")
    return value
