"""The SCORE indicators an enterprise measures from baseline to its final visit.

Each has a unit, the direction that counts as better and a valid range. A value outside the
range is refused; a value within it that changed from the baseline by more than a set factor
is accepted but flagged for review (a typo in a productivity figure should be asked about,
not averaged into a donor's report).
"""
from __future__ import annotations

from dataclasses import dataclass

HIGHER, LOWER = "higher", "lower"
# A change from the baseline by more than this factor (either way) is flagged for review.
PLAUSIBLE_FACTOR = 5.0


@dataclass(frozen=True)
class Kpi:
    code: str
    name: str
    unit: str
    better: str           # HIGHER or LOWER
    minimum: float
    maximum: float


DICTIONARY: dict[str, Kpi] = {kpi.code: kpi for kpi in (
    Kpi("productivity", "Productivity", "units per worker-hour", HIGHER, 0, 100_000),
    Kpi("defect_rate", "Defect rate", "% of output", LOWER, 0, 100),
    Kpi("rework", "Rework", "% of output", LOWER, 0, 100),
    Kpi("reject_rate", "Reject rate", "% of output", LOWER, 0, 100),
    Kpi("absenteeism", "Absenteeism", "% of scheduled days", LOWER, 0, 100),
    Kpi("energy_use", "Energy use", "kWh per month", LOWER, 0, 100_000_000),
    Kpi("cost_saving", "Cost saving", "IDR per month", HIGHER, 0, 1e13),
    Kpi("audit_5s", "5S audit score", "points (0-100)", HIGHER, 0, 100),
    Kpi("suggestions_made", "Suggestions made", "per month", HIGHER, 0, 100_000),
    Kpi("suggestions_implemented", "Suggestions implemented", "per month", HIGHER, 0,
        100_000),
    Kpi("accidents", "Accidents", "per month", LOWER, 0, 10_000),
    Kpi("staff_turnover", "Staff turnover", "% per year", LOWER, 0, 100),
)}


def check(code: str, value) -> list[str]:
    """Why this measurement cannot be recorded (empty when it can)."""
    kpi = DICTIONARY.get(code)
    if kpi is None:
        return [f"unknown indicator {code!r}; known: {', '.join(sorted(DICTIONARY))}"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return [f"must be a number ({kpi.unit})"]
    if not kpi.minimum <= value <= kpi.maximum:
        return [f"{value:g} is out of range for {kpi.name}: {kpi.minimum:g} to "
                f"{kpi.maximum:g} {kpi.unit}"]
    return []


def improvement(code: str, baseline: float, value: float) -> float | None:
    """The change from the baseline as a share of it, positive when better (None when the
    baseline is zero and no share can be taken)."""
    if baseline == 0:
        return None
    change = (value - baseline) / abs(baseline)
    return change if DICTIONARY[code].better == HIGHER else -change


def implausible(code: str, baseline: float, value: float,
                factor: float = PLAUSIBLE_FACTOR) -> str | None:
    """A reason to review a plausible-looking but suspicious change, or None."""
    if baseline == 0 or value == 0:
        return None
    ratio = value / baseline
    if ratio > factor or ratio < 1 / factor:
        return (f"{DICTIONARY[code].name} changed from {baseline:g} to {value:g} "
                f"(x{ratio:.2g}); beyond x{factor:g} it is checked before it counts")
    return None
