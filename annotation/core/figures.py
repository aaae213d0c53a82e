"""The study's figures, drawn from plain data (`charts`) with matplotlib, as SVG (in the page),
PNG and PDF (print quality). No Django here: `annotation.services.figure_data` turns stored
results into the data.

Output is byte-for-byte reproducible: no dates or software versions in the files, a fixed hash
salt for SVG ids, and matplotlib's bundled font, so the same study gives the same files.

Labels are people's text of any length, and a figure keeps its plot area whatever they are: a
row's label is wrapped onto two lines, or, when a name will not fit, every name becomes a letter
spelt out in a key below the plot ("A = Expert-written summary by ..."); the title and the
question's prompt are wrapped; the legend sits below the plot in as many columns as fit; and
the figure grows taller with its rows and its text instead of squeezing the plot. The layout
is measured with the renderer rather than left to matplotlib's layout engines, which give up
when labels are long and leave the plot a sliver beside them.
"""

import io
import textwrap
from collections.abc import Callable, Sequence

import matplotlib

matplotlib.use("Agg")  # no display: figures are files
# Labels are admins' and models' text, never TeX: "$x$" must print as written, not as maths.
matplotlib.rcParams["text.parse_math"] = False

from matplotlib.artist import Artist  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backend_bases import RendererBase  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from annotation.core.charts import FORMATS, PAIR, Interval, Label, Stack  # noqa: E402

PRINT_DPI = 300
# Lowest category lightest, highest darkest (the dashboard's bars use the same ramp).
RAMP = ["#d6e4f0", "#a9c6e0", "#76a3cc", "#4a7fb3", "#2b5c8f", "#1b3f66", "#122b47"]
INK, MUTED = "#1d2733", "#6b7785"
METADATA = {
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
    "png": {"Software": None},
}

# Sizes in inches. The width is a journal page's text width; the height follows the content.
WIDTH, MARGIN, GAP, RIGHT = 6.5, 0.1, 0.12, 0.3
ROW = {1: 0.38, 2: 0.52}  # height of a row whose label has one line, two lines
LABEL_CHARS, LABEL_LINES = 24, 2  # a row's label wrapped: longer than this, names get letters
LABEL_SHARE = 0.32  # of the width at most for the rows' labels, measured (wide letters)
TITLE_LINES, PROMPT_LINES, LEGEND_LINES, KEY_LINES = 2, 3, 3, 3
PLOT_SHARE = 0.6  # of the height at least for the plot, however much text is around it
LEGEND = {
    "loc": "upper left",
    "fontsize": 8,
    "frameon": False,
    "borderpad": 0,
    "borderaxespad": 0,
    "labelcolor": INK,
}


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


MAX_ROWS = 60  # beyond this a figure is a wall, and its PNG hundreds of megabytes


def _capped(rows: Sequence, title: str) -> tuple[Sequence, str]:
    if len(rows) <= MAX_ROWS:
        return rows, title
    return rows[:MAX_ROWS], f"{title} (first {MAX_ROWS} of {len(rows)}; all in the table)"


def forest(
    rows: Sequence[Interval],
    *,
    title: str,
    xlabel: str,
    subtitle: str = "",
    reference: float | None = None,
) -> Figure:
    """Estimates with their 95% intervals, one row each, top to bottom in the order given;
    `subtitle` (the question's prompt) under the title."""
    rows, title = _capped(rows, title)
    figure, axes = _figure()
    positions = _positions(len(rows))
    for y, row in zip(positions, rows, strict=True):
        if row.value is None:
            axes.text(
                0.5, y, "undefined", transform=axes.get_yaxis_transform(), color=MUTED, va="center"
            )
            continue
        if row.low is not None and row.high is not None:
            axes.plot([row.low, row.high], [y, y], color=INK, linewidth=1.4)
        axes.plot([row.value], [y], "s", color=RAMP[4], markersize=6)
    if reference is not None:
        axes.axvline(reference, color=MUTED, linewidth=0.8, linestyle="--")
    axes.set_xlabel(xlabel, color=INK, fontsize=9)
    _arrange(figure, axes, [row.label for row in rows], title=title, subtitle=subtitle)
    return figure


def stacked(
    rows: Sequence[Stack], *, categories: Sequence[str], title: str, subtitle: str = ""
) -> Figure:
    """Shares of each category per row as one horizontal bar, with a legend of categories
    below the plot."""
    rows, title = _capped(rows, title)
    figure, axes = _figure()
    steps = max(len(categories) - 1, 1)
    colours = [RAMP[i * (len(RAMP) - 1) // steps] for i in range(len(categories))]
    for y, row in zip(_positions(len(rows)), rows, strict=True):
        total = sum(row.counts) or 1
        left = 0.0
        for colour, count in zip(colours, row.counts, strict=True):
            axes.barh(y, count / total, left=left, color=colour, height=0.6)
            left += count / total
    axes.set_xlim(0, 1)
    axes.set_xlabel("share of answers", color=INK, fontsize=9)
    legend = ([Patch(color=colour) for colour in colours], list(categories))
    labels = [row.label for row in rows]
    _arrange(figure, axes, labels, title=title, subtitle=subtitle, legend=legend)
    return figure


def _figure() -> tuple[Figure, Axes]:
    figure = Figure(figsize=(WIDTH, 4))
    FigureCanvasAgg(figure)  # a renderer to measure text with, before any file is written
    axes = figure.add_subplot()
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(colors=INK, labelsize=9)
    return figure, axes


def _positions(n_rows: int) -> list[int]:
    """Each row's y, the first row at the top."""
    return list(range(n_rows))[::-1]


def _arrange(
    figure: Figure,
    axes: Axes,
    labels: Sequence[Label],
    *,
    title: str,
    subtitle: str,
    legend: tuple[list, list[str]] | None = None,
) -> None:
    """Label the rows, then lay out title, prompt, plot, legend and key top to bottom, each
    measured, the figure as tall as they need and the plot at least PLOT_SHARE of it."""
    renderer = figure.canvas.get_renderer()
    n_rows = len(labels)
    axes.set_ylim(-0.7, max(n_rows, 1) - 0.3)
    key = _label_rows(axes, labels, renderer)
    width = WIDTH - 2 * MARGIN
    above = [
        _text(figure, renderer, title, width, lines=TITLE_LINES, size=10, colour=INK),
        _text(figure, renderer, subtitle, width, lines=PROMPT_LINES, size=9, colour=MUTED),
    ]
    below = [
        _legend(figure, renderer, *legend, width=width) if legend else None,
        _key(figure, renderer, key, width) if key else None,
    ]
    _stack(figure, axes, [a for a in above if a], [b for b in below if b], renderer)


def _stack(figure: Figure, axes: Axes, above: list, below: list, renderer: RendererBase) -> None:
    """Place the texts above the plot, the plot, and the texts below it, top to bottom, each as
    tall as measured: the figure as tall as they need, the plot at least PLOT_SHARE of it."""
    heights = [_inches(artist, renderer)[1] for artist in above + below]
    y_axis, x_axis = _axis_reach(axes, renderer)
    text = sum(heights) + GAP * len(heights) + x_axis + 2 * MARGIN
    plot = max(_rows_height(axes), text * PLOT_SHARE / (1 - PLOT_SHARE))
    total = text + plot
    figure.set_size_inches(WIDTH, total)
    top = MARGIN
    for artist, height in zip(above, heights, strict=False):
        _place(artist, top, total)
        top += height + GAP
    left = MARGIN + y_axis
    axes.set_position(
        [left / WIDTH, 1 - (top + plot) / total, (WIDTH - left - RIGHT) / WIDTH, plot / total]
    )
    top += plot + x_axis
    for artist, height in zip(below, heights[len(above) :], strict=True):
        top += GAP
        _place(artist, top, total)
        top += height


def _axis_reach(axes: Axes, renderer: RendererBase) -> tuple[float, float]:
    """How far, in inches, the y axis's ticks and labels reach left of the plot, and the x
    axis's below it (the same wherever the plot is: they are sized in points)."""
    plot = axes.get_window_extent(renderer)
    y_axis, x_axis = axes.yaxis.get_tightbbox(renderer), axes.xaxis.get_tightbbox(renderer)
    left = plot.x0 - y_axis.x0 if y_axis else 0  # None: no ticks (a figure of no rows)
    down = plot.y0 - x_axis.y0 if x_axis else 0
    return left / axes.figure.dpi, down / axes.figure.dpi


def _rows_height(axes: Axes) -> float:
    """The plot's height for its rows: more for rows whose labels take two lines."""
    labels = axes.get_yticklabels()
    lines = max([label.get_text().count("\n") + 1 for label in labels] + [1])
    return ROW[min(lines, 2)] * (max(len(labels), 1) + 0.4)


def _label_rows(axes: Axes, labels: Sequence[Label], renderer: RendererBase) -> list[str]:
    """Write each row's label, wrapped, or every name as a letter when one will not fit in
    LABEL_LINES lines or LABEL_SHARE of the width; returns the key of the letters ([] if none)."""
    positions = _positions(len(labels))
    shown = [_wrap(PAIR.join(_names(label)), LABEL_CHARS) for label in labels]
    if all(s.count("\n") < LABEL_LINES for s in shown):
        axes.set_yticks(positions, shown)
        if _axis_reach(axes, renderer)[0] <= LABEL_SHARE * WIDTH:
            return []
    letters = {
        name: _letters(i)
        for i, name in enumerate(dict.fromkeys(n for label in labels for n in _names(label)))
    }
    axes.set_yticks(positions, [PAIR.join(letters[n] for n in _names(label)) for label in labels])
    return [f"{letter} = {name}" for name, letter in letters.items()]


def _names(label: Label) -> tuple[str, ...]:
    return label if isinstance(label, tuple) else (label,)


def _letters(index: int) -> str:
    """A, B, ..., Z, AA, AB, ... for 0, 1, ..."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _wrap(text: str, chars: int, lines: int | None = None, indent: str = "") -> str:
    """`text` on lines of at most `chars` characters; past `lines` lines, cut with "…"."""
    wrapped = textwrap.wrap(" ".join(text.split()), chars, subsequent_indent=indent) or [""]
    if lines is not None and len(wrapped) > lines:
        wrapped = wrapped[:lines]
        wrapped[-1] = wrapped[-1][: chars - 1].rstrip() + "…"
    return "\n".join(wrapped)


def _fitted(
    text: Text, renderer: RendererBase, width: float, content: Callable[[int], str]
) -> Text:
    """Set `text` to `content(chars)` for the most characters a line that fit in `width`
    inches, as measured (wrapping by count alone would let wide letters spill over)."""
    chars = int(width * 72 / (text.get_fontsize() * 0.5))
    while True:
        text.set_text(content(chars))
        if chars <= 12 or _inches(text, renderer)[0] <= width:
            return text
        chars = int(chars * 0.9)


def _text(figure, renderer, content: str, width: float, *, lines: int, size: float, colour: str):
    if not content.strip():
        return None
    text = figure.text(0, 0, "", fontsize=size, color=colour, ha="left", va="top")
    return _fitted(text, renderer, width, lambda chars: _wrap(content, chars, lines))


def _key(figure: Figure, renderer: RendererBase, entries: list[str], width: float) -> Text:
    """The letters' key, one name a line (wrapped under itself), under the plot."""
    text = figure.text(0, 0, "", fontsize=8, color=INK, ha="left", va="top")
    return _fitted(
        text,
        renderer,
        width,
        lambda chars: "\n".join(_wrap(e, chars, KEY_LINES, indent="    ") for e in entries),
    )


def _legend(
    figure: Figure, renderer: RendererBase, handles: list, names: list[str], *, width: float
):
    """The categories in as many columns as fit in `width`, each name wrapped."""
    for chars in (28, 20):
        labels = [_wrap(name, chars, LEGEND_LINES) for name in names]
        for ncols in range(len(labels), 0, -1):
            legend = figure.legend(handles, labels, ncols=ncols, **LEGEND)
            if _inches(legend, renderer)[0] <= width or (ncols, chars) == (1, 20):
                return legend
            legend.remove()
    raise AssertionError("unreachable: one column of short names is always kept")


def _inches(artist: Artist, renderer: RendererBase) -> tuple[float, float]:
    """An artist's width and height as drawn, in inches."""
    box = artist.get_window_extent(renderer)
    dpi = artist.figure.dpi
    return box.width / dpi, box.height / dpi


def _place(artist: Artist, top: float, total: float) -> None:
    """Put a text or legend's top-left corner `top` inches below the figure's top."""
    x, y = MARGIN / WIDTH, 1 - top / total
    if isinstance(artist, Text):
        artist.set_position((x, y))
    else:
        artist.set_bbox_to_anchor((x, y), transform=artist.figure.transFigure)
