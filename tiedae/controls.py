"""The page's and the API's settings, checked: each a ValueError that names the setting and says what it takes.

Torch is imported on first check, not with this module: the page is built from it before torch loads.
"""

from __future__ import annotations

from tiedae.constants import MAX_SEED


def check_controls(kind: object, level: object, seed: object) -> tuple[str, float, int]:
    """Validated (kind, level, seed), or a ValueError saying what is wrong."""
    from tiedae.noise import NOISE_KINDS, check_noise

    if kind not in NOISE_KINDS:
        raise ValueError(f"Noise type must be one of {', '.join(NOISE_KINDS)}; got {kind!r}.")
    try:
        check_noise(kind, level)  # the one rule for noise levels
    except ValueError:
        raise ValueError(f"Noise level must be a number from 0 to 1; got {level!r}.") from None
    return kind, float(level), whole_number(seed, 0, MAX_SEED, "Seed")


def whole_number(value: object, low: int, high: int, what: str) -> int:
    """`value` as an int in [low, high] (a float like 3.0 counts), or a ValueError naming `what`."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{what} must be a whole number from {low:,} to {high:,}; got {value!r}.")
    return value
