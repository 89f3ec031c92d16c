"""Small statistics and reporting helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


def percentile(samples: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100), nearest rank."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def median(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


@dataclass
class Figure:
    """One measured figure next to its reference, both from the same run."""

    name: str
    value: float
    reference: float
    unit: str
    reference_name: str
    target: str = ""  # the target, in words
    met: bool | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.value / self.reference if self.reference else float("inf")

    def line(self) -> str:
        verdict = "" if self.met is None else ("  [target met]" if self.met else "  [TARGET MISSED]")
        return (
            f"{self.name:<38} {_fmt(self.value, self.unit):>12}   "
            f"{self.reference_name} {_fmt(self.reference, self.unit)}   ratio {self.ratio:5.2f}x"
            f"   target {self.target}{verdict}"
        )

    def as_tuple(self) -> tuple[str, float, str]:
        """``(name, value, unit)`` for ``python -m benchmarks``; the unit carries
        the reference, the ratio and the verdict."""
        verdict = "" if self.met is None else (" [target met]" if self.met else " [TARGET MISSED]")
        scale, unit = _scale(self.value, self.unit)
        return (
            self.name,
            self.value * scale,
            f"{unit}  ({self.reference_name} {_fmt(self.reference, self.unit)}, "
            f"ratio {self.ratio:.2f}x, target {self.target}){verdict}",
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "value": self.value,
            "reference": self.reference,
            "reference_name": self.reference_name,
            "unit": self.unit,
            "ratio": self.ratio,
            "target": self.target,
            "met": self.met,
            "notes": self.notes,
        }


def _scale(value: float, unit: str) -> tuple[float, str]:
    if unit == "s":
        return (1e6, "us") if value < 1e-3 else (1e3, "ms")
    if unit == "B":
        return 1 / 1024, "KiB"
    return 1.0, unit


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1e6:.0f} us" if value < 1e-3 else f"{value * 1e3:.1f} ms"
    if unit == "B":
        return f"{value / 1024:.1f} KiB"
    return f"{value:.3g} {unit}"
