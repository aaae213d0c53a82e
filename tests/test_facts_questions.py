"""The methods text's questions and raters, per question kind and study state: every kind says
how it was answered and whether it was analysed (no empty brackets, no "analysed as ." for free
text), "not applicable" is mentioned where it was offered, and the raters' sentence is in the
tense of the study's state (issue 21)."""

import pytest

from annotation import services
from annotation.models import Question, Rating, Study
from annotation.selectors.facts import study_reporting_facts
from annotation.services.bundle import methods_text

QUESTIONS = [
    # key, kind, level, scale, extra, expected "Answered as" and analysis
    (
        "why",
        "text",
        "",
        [],
        {},
        "Answered as: Free text. Not analysed statistically; the answers are in the ratings "
        "export.",
    ),
    (
        "tags",
        "multiple_choice",
        "",
        [{"value": "a", "label": "Omission"}, {"value": "b", "label": "Hallucination"}],
        {},
        "Answered as: Multiple choice (a = Omission; b = Hallucination). Not analysed "
        "statistically",
    ),
    (
        "safe",
        "yes_no",
        "nominal",
        [],
        {},
        "Answered as: Yes / no (yes; no). Analysed as nominal data.",
    ),
    (
        "minutes",
        "number",
        "ratio",
        [],
        {"minimum": 0, "maximum": 120},
        "Answered as: Number (from 0 to 120). Analysed as ratio data.",
    ),
    (
        "open_number",
        "number",
        "interval",
        [],
        {},
        "Answered as: Number (from any to any). Analysed as interval data.",
    ),
    (
        "harm",
        "single_choice",
        "ordinal",
        [{"value": "none", "label": "No harm"}, {"value": "severe", "label": "Severe harm"}],
        {},
        "Answered as: Single choice (none = No harm; severe = Severe harm). Analysed as ordinal "
        "data.",
    ),
]


@pytest.mark.parametrize(("key", "kind", "level", "scale", "extra", "expected"), QUESTIONS)
def test_each_kind_says_how_it_was_answered_and_analysed(
    draft_study, key, kind, level, scale, extra, expected
):
    Question.objects.create(
        study=draft_study,
        key=key,
        prompt="What do you think",
        kind=kind,
        level=level,
        scale=scale,
        order=9,
        **extra,
    )
    (fact,) = [f for f in study_reporting_facts(study=draft_study)["questions"] if key in f]
    assert fact.startswith(f'Question "{key}": What do you think. ')
    assert expected in fact
    assert "()" not in fact
    assert "analysed as ." not in fact.lower()


def test_not_applicable_and_optional_answers_are_stated(draft_study):
    overall = draft_study.questions.get(key="overall")
    overall.allow_na, overall.required = True, False
    overall.save()
    (fact,) = study_reporting_facts(study=draft_study)["questions"]
    assert "Answering it was optional." in fact
    assert 'Raters could answer "not applicable"' in fact
    assert "left out of the statistics" in fact
    overall.allow_na = False
    overall.save()
    (fact,) = study_reporting_facts(study=draft_study)["questions"]
    assert "not applicable" not in fact


def test_a_free_text_question_reads_right_in_the_bundles_methods(draft_study):
    Question.objects.create(
        study=draft_study, key="why", prompt="Why?", kind="text", level="", order=9
    )
    text = methods_text(draft_study)
    assert 'Question "why": Why? Answered as: Free text. Not analysed statistically' in text
    assert "Free text ()" not in text
    assert "analysed as ." not in text


def rate_one(study: Study) -> None:
    assignment = study.assignments.order_by("pk").first()
    question = study.questions.get(key="overall")
    services.rating_save(assignment=assignment, question=question, answer=3)


def test_the_raters_sentence_follows_the_studys_state(draft_study):
    (draft, per_item) = study_reporting_facts(study=draft_study)["raters"]
    assert draft.startswith("3 raters added so far; the study has not been opened")
    assert per_item == "Each output is to be assigned to 2 different raters."

    services.study_open(study=draft_study)
    draft_study.refresh_from_db()
    rate_one(draft_study)
    assert Rating.objects.filter(assignment__study=draft_study).exists()
    opened, per_item = study_reporting_facts(study=draft_study)["raters"]
    assert "were assigned outputs and 1 of them have rated so far" in opened
    assert per_item == "Each output was assigned to 2 different raters."

    services.study_lock(study=draft_study)
    draft_study.refresh_from_db()
    (locked, _) = study_reporting_facts(study=draft_study)["raters"]
    assert "1 of them rated before the study was locked" in locked
    assert "so far" not in locked

    services.study_archive(study=draft_study)
    draft_study.refresh_from_db()
    (archived, _) = study_reporting_facts(study=draft_study)["raters"]
    assert "1 of them rated before the study was locked" in archived
