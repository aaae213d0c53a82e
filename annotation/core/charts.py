"""What the study's figures show, as plain data: a forest plot's rows (`Interval`), a stacked
bar chart's bars (`Stack`), their labels, and the formats a figure is written in. Everything a
page needs to list and link the figures without loading matplotlib, which `figures` uses to
draw them."""

from collections.abc import Sequence
from dataclasses import dataclass

FORMATS = {"svg": "image/svg+xml", "png": "image/png", "pdf": "application/pdf"}

# A row's label is one name, or a pair of names (two sources compared) drawn "first vs second".
Label = str | tuple[str, str]
PAIR = " vs "


@dataclass(frozen=True)
class Interval:
    """One row of a forest plot: an estimate and its 95% interval (None where undefined)."""

    label: Label
    value: float | None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Stack:
    """One bar of a stacked bar chart: counts per category, in the categories' order."""

    label: Label
    counts: Sequence[float]
