"""The study admin's dashboard of an assisted-reading study: what each card says, in words a
reader of the page can act on, with the stored numbers unchanged."""

import re

import pytest
from django.urls import reverse
from scipy.stats import binomtest
from scipy.stats import chi2 as chi2_distribution

from annotation import services
from annotation.models import AnswerScore, Result, TaskRun
from annotation.services.statistics import agreement_compute
from tests.reading_support import reading_study
from tests.test_reading_statistics_stored import PLAN, _read

pytestmark = pytest.mark.django_db


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _card(page: str, marker: str) -> str:
    """The card (its <section>) holding `marker`."""
    start = page.rindex("<section", 0, page.index(marker))
    return page[start : page.index("</section>", start)]


@pytest.fixture
def read_study(study_admin, raters):
    readers = raters[:2]
    study = reading_study(study_admin, readers)
    services.study_open(study=study)
    _read(study, readers)
    AnswerScore.objects.filter(outcome="undecided").update(outcome="wrong", by="scorer")
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    agreement_compute(run=services.task_run_claim(run_id=run.pk))
    return study


def _dashboard(client, study_admin, study) -> str:
    client.force_login(study_admin)
    return client.get(reverse("study_dashboard", args=[study.token])).text


def test_the_agreement_card_says_why_the_answer_question_has_no_agreement(
    client, study_admin, read_study
):
    page = _dashboard(client, study_admin, read_study)
    card = _text(_card(page, 'id="agreement-title"'))
    assert "Krippendorff" not in card
    assert "Undefined" not in card
    assert "()" not in card
    assert "scored right or wrong against the case's accepted answers" in card
    comparisons = _text(_card(page, 'id="comparisons-title"'))
    assert "The arms are compared under Assisted reading" in comparisons
    assert "once raters have submitted items" not in comparisons


def test_the_results_lead_with_the_mrmc_gain_and_label_each_figure(client, study_admin, read_study):
    page = _dashboard(client, study_admin, read_study)
    text = _text(_card(page, 'id="reading-results"'))
    unassisted = sum(first for first, _ in PLAN.values()) / 8
    assisted = sum(second for _, second in PLAN.values()) / 8
    stored = Result.objects.get(study=read_study, statistic="reading_mrmc")
    difference = stored.detail["analyses"][0]["differences"][0]
    assert (difference["first"], difference["second"]) == ("unassisted", "llm")
    low, high = sorted(-bound for bound in difference["ci"])  # assisted minus unassisted
    headline = (
        f"{assisted - unassisted:+.3f} Accuracy assisted (llm) minus unassisted, "
        f"95% CI {low:.3f} to {high:.3f}, p = {difference['p']:.4f}"
    )
    assert headline in text
    assert text.index(headline) < text.index("Right / scored reads")  # the headline row
    assert "it answers for readers like these, on cases like these (readers and cases random)" in (
        text
    )
    helped = sum(s and not f for f, s in PLAN.values())
    harmed = sum(f and not s for f, s in PLAN.values())
    assert f"Helped {helped} of 8 pairs: wrong alone, right with assistance; rate 0.500" in text
    assert f"Harmed {harmed} of 8 pairs: right alone, wrong with assistance; rate 0.125" in text
    exact = binomtest(helped, helped + harmed, 0.5).pvalue
    assert f"McNemar, exact (report this one) p = {exact:.4f}" in text
    chi2 = (abs(helped - harmed) - 1) ** 2 / (helped + harmed)
    assert f"(for comparison) p = {chi2_distribution.sf(chi2, 1):.4f}" in text
    assert "At top-j a list matched automatically at a lower rank than j is pending too" in text


def test_wide_reading_tables_scroll_in_a_labelled_focusable_region(client, study_admin, read_study):
    card = _card(_dashboard(client, study_admin, read_study), 'id="reading-results"')
    tables = card.count("<table")
    regions = re.findall(
        r'<div class="table-scroll" role="region" aria-label="[^"]+" tabindex="0">\s*<table', card
    )
    assert tables == len(regions) == 2


def test_a_crossover_study_with_the_unassisted_arm_alone_is_warned_and_counted_right(
    client, study_admin
):
    study = services.reading_study_create(
        creator=study_admin,
        title="Crossover, one arm",
        layout="crossover",
        answer_kind="text",
        k=None,
        prompt="Diagnosis",
        seed=1,
        washout_days=14,
    )
    text = _text(_card(_dashboard(client, study_admin, study), 'id="arms"'))
    assert "one arm per session (1 session)," in text
    assert "1 sessions" not in text
    assert "Only the unassisted arm so far: add an assisting arm" in text
    assert "and no second session" in text
    results = _text(_card(_dashboard(client, study_admin, study), 'id="reading-results"'))
    assert "once the study is open and readers have submitted answers" in results


def test_answers_waiting_with_no_scorer_are_warned_and_the_empty_state_says_why(
    client, study_admin, raters
):
    readers = raters[:2]
    study = reading_study(study_admin, readers, washout_days=0)
    services.study_open(study=study)
    arms = _text(_card(_dashboard(client, study_admin, study), 'id="arms"'))
    assert "(2 sessions)" in arms
    assert "Only the unassisted arm" not in arms
    empty = _text(_card(_dashboard(client, study_admin, study), 'id="reading-results"'))
    assert "No answers submitted yet" in empty
    question = study.questions.get()
    first = study.assignments.filter(session=1).order_by("rater", "position")
    for read in first:  # an answer no case accepts: undecided until a scorer decides it
        services.rating_save(assignment=read, question=question, answer=["Gout"])
        services.assignment_submit(assignment=read)
    waiting = AnswerScore.objects.filter(outcome="undecided").count()
    assert waiting == first.count() == 8
    page = _dashboard(client, study_admin, study)
    results = _text(_card(page, 'id="reading-results"'))
    assert f"{waiting} answers match no accepted wording" in results
    assert "No scorer has been added yet" in results
    assert "once readers have submitted answers" not in results
    assert "No accuracy yet: the submitted answers no accepted wording matches wait" in results
    arms = _text(_card(page, 'id="arms"'))
    assert f"{waiting} answers wait for a scorer and the study has none" in arms
    services.scorer_add(study=study, user=raters[2])
    page = _dashboard(client, study_admin, study)
    assert "No scorer has been added yet" not in page
    assert 'data-testid="reading-no-scorer"' not in page


def test_without_an_mrmc_result_the_headline_says_what_it_needs(client, study_admin, read_study):
    Result.objects.filter(study=read_study, statistic="reading_mrmc").delete()
    text = _text(_card(_dashboard(client, study_admin, read_study), 'id="reading-results"'))
    assert "minus unassisted, 95% CI" not in text
    assert "it needs every reader to have read every case in both arms" in text
