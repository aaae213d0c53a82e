"""Every figure keeps its plot area with real labels: long source names, whole-sentence prompts
and scale labels, two to twelve sources, accents and symbols. Measured with matplotlib's own
renderer: the axes' share of what the saved file shows, every text inside the figure, no text
on another, and no label lost (a name too long to wrap is abbreviated and spelt out in a key)."""

import re
import zipfile

import pytest
from django.urls import reverse
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from annotation.core import figures
from annotation.core.stats.estimate import THESE_RATERS
from annotation.models import Result, Source
from annotation.services import figure_data
from tests.test_bundle import build, rated  # noqa: F401 (rated is a fixture)

MIN_SHARE = 0.55  # of the width and of the height of what the saved file shows

SHORT = ["GPT-4o", "Expert"]
LONG = [
    "Expert-written summary by a board-certified internist (reference)",
    "GPT-4o (2024-08-06), retrieval-augmented with the patient's notes, temperature 0",
    "Llama-3-70B-Instruct fine-tuned on MIMIC-IV discharge summaries (epoch 3)",
    "Résumé rédigé par l'équipe — patients ≥ 65 y, β-blocker naïve",
    "Med-PaLM 2 (ensemble refinement prompting, 11 samples, self-consistency)",
    "Claude 3.5 Sonnet with a clinician-written system prompt and few-shot examples",
    "Mistral-7B-Instruct-v0.3 quantised to 4 bits, served with vLLM on one A100",
    "Resident physician (PGY-2) summary written under time pressure in clinic",
    "Nurse practitioner summary, family medicine, 12 years of experience",
    "BioMistral-7B continued pre-training on PubMed Central open-access articles",
    "Gemini 1.5 Pro (May 2024) with the full chart as context (1M tokens window)",
    "Human reference written by two attending physicians reaching consensus",
]
SCALE_SHORT = ["1", "2", "3", "4", "5"]
SCALE_LONG = [
    "Contains a clinically significant error that could lead to harm",
    "Contains an error of no clinical consequence for this patient",
    "Acceptable, with minor omissions that a clinician would notice",
    "Accurate and complete in every clinically relevant respect",
    "Better than the summary I would have written myself",
]
PROMPT = (
    "How accurate and complete is this summary, compared with the patient's notes, for a "
    "clinician who has never seen the patient before?"
)
METHODS = [
    "Krippendorff's alpha (ordinal), BCa bootstrap over cases",
    "Gwet's AC2 with quadratic weights (Gwet 2014)",
    "ICC(2,1) two-way random, absolute agreement (Shrout & Fleiss 1979)",
]


def kinds(names: list[str], scale: list[str], prompt: str) -> dict[str, Figure]:
    """One figure of each kind the study draws, with these labels."""
    n = len(names)
    pairs = [(a, b) for a, b in zip(names, names[1:] + names[:1], strict=True)][: max(n - 1, 1)]
    return {
        "means": figures.forest(
            [figures.Interval(name, 3 + i / n, 2.5, 3.5 + i / n) for i, name in enumerate(names)],
            title="overall: mean (95% CI, these raters)",
            subtitle=prompt,
            xlabel="mean",
        ),
        "agreement": figures.forest(
            [figures.Interval(m, 0.6, 0.4, 0.8) for m in METHODS]
            + [figures.Interval("Fleiss' kappa", None)],
            title="overall: agreement (95% CI, raters like these)",
            subtitle=prompt,
            xlabel="coefficient",
        ),
        "distribution": figures.stacked(
            [figures.Stack(name, [1 + i, 2, 3, 4, 5 - i % 5]) for i, name in enumerate(names)],
            categories=scale,
            title="overall: answers per source",
            subtitle=prompt,
        ),
        "preferences": figures.stacked(
            [figures.Stack(pair, [3, 1, 2]) for pair in pairs],
            categories=["first preferred", "tie", "second preferred"],
            title="overall: preferences per pair",
            subtitle=prompt,
        ),
        "bradley-terry": figures.forest(
            [figures.Interval(name, 0.1 * i, -0.5, 0.5) for i, name in enumerate(names)],
            title="overall: Bradley–Terry log-strength (95% CI, these raters)",
            subtitle=prompt,
            xlabel="log-strength",
            reference=0,
        ),
    }


CASES = {
    "short": (SHORT, SCALE_SHORT, "Overall quality"),
    "long": (LONG[:2], SCALE_LONG, PROMPT),
    "twelve long": (LONG, SCALE_LONG, PROMPT),
    "five long": (LONG[3:8], SCALE_LONG, PROMPT),
    "twelve short": ([f"model-{i}" for i in range(12)], SCALE_SHORT, "Quality"),
}
EVERY = [(case, kind) for case in CASES for kind in kinds(*CASES["short"])]


def drawn(figure: Figure):
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return canvas.get_renderer()


def texts(figure: Figure) -> list[Text]:
    """Every text drawn: a tick past the axis's limits is kept by matplotlib but not drawn."""
    hidden = set()
    for axis in (a for axes in figure.axes for a in (axes.xaxis, axes.yaxis)):
        low, high = sorted(axis.get_view_interval())
        for tick in axis.get_major_ticks():
            if not low - 1e-9 <= tick.get_loc() <= high + 1e-9:
                hidden |= {id(tick.label1), id(tick.label2)}
    return [
        t
        for t in figure.findobj(Text)
        if t.get_visible() and t.get_text().strip() and id(t) not in hidden
    ]


def extent(artist, renderer) -> Bbox:
    return artist.get_window_extent(renderer)


def within(box: Bbox, outer: Bbox) -> bool:
    return outer.x0 <= box.x0 <= box.x1 <= outer.x1 and outer.y0 <= box.y0 <= box.y1 <= outer.y1


def overlap(a: Bbox, b: Bbox, slack: float = 0.5) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > slack and min(a.y1, b.y1) - max(a.y0, b.y0) > slack


@pytest.mark.parametrize(("case", "kind"), EVERY)
def test_the_axes_keep_their_share_of_the_saved_figure(case, kind):
    figure = kinds(*CASES[case])[kind]
    renderer = drawn(figure)
    axes = figure.axes[0].get_window_extent(renderer)
    shown = Bbox.union(
        [figure.bbox, figure.get_tightbbox(renderer).transformed(figure.dpi_scale_trans)]
    )
    assert axes.width / shown.width >= MIN_SHARE, (case, kind, axes.width / shown.width)
    assert axes.height / shown.height >= MIN_SHARE, (case, kind, axes.height / shown.height)


@pytest.mark.parametrize(("case", "kind"), EVERY)
def test_every_text_is_inside_the_figure_title_included(case, kind):
    figure = kinds(*CASES[case])[kind]
    renderer = drawn(figure)
    inside = figure.bbox.padded(1)
    for text in texts(figure):
        box = extent(text, renderer)
        assert within(box, inside), (kind, text.get_text(), box, inside)


@pytest.mark.parametrize(("case", "kind"), EVERY)
def test_no_text_lies_on_another_or_on_the_plot(case, kind):
    figure = kinds(*CASES[case])[kind]
    renderer = drawn(figure)
    axes = figure.axes[0]
    ticks = axes.get_xticklabels() + axes.get_yticklabels()
    inner = {id(t) for t in axes.texts}  # drawn in the plot on purpose ("undefined")
    everything = [t for t in texts(figure) if id(t) not in inner]
    boxes = [(t.get_text(), extent(t, renderer)) for t in everything]
    for i, (first, a) in enumerate(boxes):
        for second, b in boxes[i + 1 :]:
            assert not overlap(a, b), (kind, first, second)
    plot = axes.get_window_extent(renderer)
    for text in everything:
        if text not in ticks:
            assert not overlap(extent(text, renderer), plot), (kind, text.get_text())


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("case", CASES)
def test_every_label_is_in_the_figure_whole_or_in_its_key(case):
    names, scale, prompt = CASES[case]
    for kind, figure in kinds(names, scale, prompt).items():
        shown = squeezed(" ".join(t.get_text() for t in texts(figure)))
        labels = METHODS if kind == "agreement" else names
        for label in [*labels, prompt] + (scale if kind == "distribution" else []):
            assert squeezed(label) in shown, (kind, label)


def test_a_name_too_long_to_wrap_is_abbreviated_with_a_key_and_pairs_keep_their_shape():
    figure = kinds(LONG[:3], SCALE_LONG, PROMPT)["preferences"]
    drawn(figure)
    ticks = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert ticks == ["A vs B", "B vs C"]
    key = squeezed(" ".join(t.get_text() for t in figure.texts))
    assert squeezed(f"A = {LONG[0]}") in key
    assert squeezed(f"C = {LONG[2]}") in key


def test_short_names_are_written_as_they_are_with_no_key():
    figure = kinds(SHORT, SCALE_SHORT, "Overall quality")["means"]
    drawn(figure)
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == SHORT
    assert not any(" = " in t.get_text() for t in figure.texts)


def test_a_prompt_too_long_for_three_lines_ends_with_an_ellipsis():
    figure = kinds(SHORT, SCALE_SHORT, PROMPT * 4)["means"]
    drawn(figure)
    subtitle = [t.get_text() for t in figure.texts if t.get_text().startswith("How accurate")]
    assert len(subtitle) == 1
    assert subtitle[0].endswith("…")
    assert subtitle[0].count("\n") == 2


def test_the_same_labels_give_the_same_bytes():
    first = figures.render(kinds(LONG, SCALE_LONG, PROMPT)["distribution"], "svg")
    second = figures.render(kinds(LONG, SCALE_LONG, PROMPT)["distribution"], "svg")
    assert first == second


@pytest.mark.django_db
def test_the_dashboard_shows_the_bundles_figures_drawn_with_the_question_and_full_names(
    client,
    rated,  # noqa: F811
    study_admin,
):
    question = rated.questions.get()
    question.prompt = PROMPT
    question.save()
    for source, label in zip(rated.sources.order_by("pk"), LONG, strict=False):
        Result.objects.filter(study=rated, source=source.label).update(source=label)
        Source.objects.filter(pk=source.pk).update(label=label)
    archive: zipfile.ZipFile = build(rated)
    client.force_login(study_admin)
    for name in ("overall-means", "overall-distribution"):
        url = reverse("study_figure", args=[rated.token, name, "svg"])
        assert client.get(url).content == archive.read(f"figures/{name}.svg"), name


def test_a_pair_whose_names_hold_vs_is_split_where_both_halves_are_sources():
    first, second = "Model A vs B ablation, a long name for the first source of all", LONG[0]
    shares = Result(source=f"{first} vs {second}", detail={"wins": 0.5, "ties": 0.2, "losses": 0.3})
    figure = figure_data._preferences("pref", [shares], PROMPT, {first, second})
    drawn(figure)
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ["A vs B"]
    key = squeezed(" ".join(t.get_text() for t in figure.texts))
    assert squeezed(f"A = {first}") in key
    assert squeezed(f"B = {second}") in key


@pytest.mark.django_db
def test_the_studys_figures_carry_its_prompt_and_say_which_question_each_interval_answers(
    rated,  # noqa: F811
):
    question = rated.questions.get()
    question.prompt = PROMPT
    question.save()
    drawn_figures = dict(figure_data.study_figures(study=rated))
    for name, asked in (("overall-means", THESE_RATERS), ("overall-agreement", THESE_RATERS)):
        figure = drawn_figures[name]()
        words = squeezed(" ".join(t.get_text() for t in figure.texts))
        assert squeezed(PROMPT) in words, name
        assert squeezed(f"95% CI: {asked}") in words, name


def test_more_names_than_letters_get_two_and_a_figure_of_no_rows_still_draws():
    names = [f"{LONG[i % len(LONG)]} (run {i})" for i in range(30)]
    figure = figures.forest(
        [figures.Interval(n, 1.0, 0.5, 1.5) for n in names], title="t", xlabel="x"
    )
    renderer = drawn(figure)
    ticks = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert ticks[:2] == ["A", "B"]
    assert ticks[26:] == ["AA", "AB", "AC", "AD"]
    key = squeezed(" ".join(t.get_text() for t in figure.texts))
    assert squeezed(f"AD = {names[29]}") in key
    assert figure.axes[0].get_window_extent(renderer).width / figure.bbox.width >= MIN_SHARE
    empty = figures.forest([], title="nothing yet", xlabel="x")
    assert figures.render(empty, "svg").lstrip().startswith(b"<?xml")
