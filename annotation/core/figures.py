"""The study's figures, drawn from plain data with matplotlib, as SVG (in the page), PNG and PDF
(print quality). No Django here: `annotation.services.figure_data` turns stored results into
the data.

Output is byte-for-byte reproducible: no dates or software versions in the files, a fixed hash
salt for SVG ids, and matplotlib's bundled font, so the same study gives the same files.
"""

import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # no display: figures are files
# Labels are admins' and models' text, never TeX: "$x$" must print as written, not as maths.
matplotlib.rcParams["text.parse_math"] = False

from matplotlib.figure import Figure  # noqa: E402

FORMATS = {"svg": "image/svg+xml", "png": "image/png", "pdf": "application/pdf"}
PRINT_DPI = 300
# Lowest category lightest, highest darkest (the dashboard's bars use the same ramp).
RAMP = ["#d6e4f0", "#a9c6e0", "#76a3cc", "#4a7fb3", "#2b5c8f", "#1b3f66", "#122b47"]
INK, MUTED = "#1d2733", "#6b7785"
METADATA = {
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
    "png": {"Software": None},
}


@dataclass(frozen=True)
class Interval:
    """One row of a forest plot: an estimate and its 95% interval (None where undefined)."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Stack:
    """One bar of a stacked bar chart: counts per category, in the categories' order."""

    label: str
    counts: Sequence[float]


def render(figure: Figure, fmt: str) -> bytes:
    """The figure as `fmt` (svg, png or pdf) bytes, the same bytes for the same figure."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown figure format {fmt!r}: use one of {', '.join(FORMATS)}")
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "evalapp", "svg.fonttype": "path"}):
        figure.savefig(
            buffer, format=fmt, dpi=PRINT_DPI, metadata=METADATA[fmt], bbox_inches="tight"
        )
    return buffer.getvalue()


def _figure(n_rows: int) -> tuple[Figure, object]:
    figure = Figure(figsize=(6.5, 0.9 + 0.38 * max(n_rows, 1)), layout="constrained")
    axes = figure.add_subplot()
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(colors=INK, labelsize=9)
    return figure, axes


MAX_ROWS = 60  # beyond this a figure is a wall, and its PNG hundreds of megabytes


def _capped(rows: Sequence, title: str) -> tuple[Sequence, str]:
    if len(rows) <= MAX_ROWS:
        return rows, title
    return rows[:MAX_ROWS], f"{title} (first {MAX_ROWS} of {len(rows)}; all in the table)"


def forest(rows: Sequence[Interval], *, title: str, xlabel: str, reference: float | None = None):
    """Estimates with their 95% intervals, one row each, top to bottom in the order given."""
    rows, title = _capped(rows, title)
    figure, axes = _figure(len(rows))
    positions = list(range(len(rows)))[::-1]
    for y, row in zip(positions, rows, strict=True):
        if row.value is None:
            axes.text(0.5, y, "undefined", transform=axes.get_yaxis_transform(), color=MUTED)
            continue
        if row.low is not None and row.high is not None:
            axes.plot([row.low, row.high], [y, y], color=INK, linewidth=1.4)
        axes.plot([row.value], [y], "s", color=RAMP[4], markersize=6)
    if reference is not None:
        axes.axvline(reference, color=MUTED, linewidth=0.8, linestyle="--")
    axes.set_yticks(positions, [row.label for row in rows])
    axes.set_ylim(-0.7, len(rows) - 0.3)
    axes.set_xlabel(xlabel, color=INK, fontsize=9)
    axes.set_title(title, color=INK, fontsize=10, loc="left")
    return figure


def stacked(rows: Sequence[Stack], *, categories: Sequence[str], title: str):
    """Shares of each category per row as one horizontal bar, with a legend of categories."""
    rows, title = _capped(rows, title)
    figure, axes = _figure(len(rows))
    positions = list(range(len(rows)))[::-1]
    for y, row in zip(positions, rows, strict=True):
        total = sum(row.counts) or 1
        left = 0.0
        for index, count in enumerate(row.counts):
            share = count / total
            colour = RAMP[min(index * (len(RAMP) - 1) // max(len(row.counts) - 1, 1), 6)]
            axes.barh(y, share, left=left, color=colour, height=0.6, label=categories[index])
            left += share
    axes.set_yticks(positions, [row.label for row in rows])
    axes.set_xlim(0, 1)
    axes.set_xlabel("share of answers", color=INK, fontsize=9)
    axes.set_title(title, color=INK, fontsize=10, loc="left")
    handles, labels = axes.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    axes.legend(
        unique.values(),
        unique.keys(),
        ncols=min(len(unique), 5),
        fontsize=8,
        frameon=False,
        loc="upper left",
        bbox_to_anchor=(0, -0.45 if len(rows) < 3 else -0.2),
    )
    return figure
