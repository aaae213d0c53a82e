"""Evidence from a linked reader study: the facts, using them as notes, and flagging them stale."""

import pytest
from django.urls import reverse

from annotation import services as study_services
from annotation.core.stats.agreement import Observation
from annotation.models import Rating, TaskRun
from annotation.selectors.facts import study_reporting_facts
from checklists import services
from checklists.models import Response
from tests.factories import alpha_of, submit_rated
from tests.test_agreement import coincidence_alpha

pytestmark = pytest.mark.django_db

MODEL, HUMAN = "MedSumm-7B", "Expert-written summary"


@pytest.fixture
def rated_study(open_study):
    """Every model output rated 4; every expert summary 2, except one rating of 3."""
    question = open_study.questions.get()
    odd_one_out = True
    for assignment in open_study.assignments.select_related("item__output__source").order_by("pk"):
        source = assignment.item.output.source.label
        value = 4 if source == MODEL else 2
        if source == HUMAN and odd_one_out:
            value, odd_one_out = 3, False
        study_services.rating_save(assignment=assignment, question=question, answer=value)
    submit_rated(open_study)
    run = TaskRun.objects.create(study=open_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    study_services.agreement_compute(run=study_services.task_run_claim(run_id=run.pk))
    return open_study


@pytest.fixture
def linked_report(rated_study, study_admin, mi_claim):
    return services.report_create(
        lead=study_admin, definition=mi_claim, title="Summaries paper", study=rated_study
    )


def test_the_facts_describe_the_study_as_it_is(rated_study):
    facts = study_reporting_facts(study=rated_study)
    assert facts["raters"] == [
        "3 raters (pseudonymised as R1 to R3 in exports) were assigned outputs and 3 of them "
        "have rated so far; 1 study admin ran the study and did not rate.",
        "Each output was assigned to 2 different raters.",
    ]
    assert facts["blinding"][-1].endswith("from the stored seed 1234.")
    assert facts["scores"][:2] == [
        f'Question "overall", {HUMAN}: mean rating 2.17 over 6 ratings.',
        f'Question "overall", {MODEL}: mean rating 4.00 over 6 ratings.',
    ]
    # Then the stored paired tests: Wilcoxon and sign test on the three shared cases.
    assert [fact.split(":")[1].split(",")[0] for fact in facts["scores"][2:4]] == [
        " exact sign test",
        " Wilcoxon signed-rank test",
    ]
    # And the MRMC comparison, which needs two readers who read the same two cases under both
    # sources: with each output given to 2 of 3 raters on 3 cases, there is no such block.
    (mrmc,) = facts["scores"][4:]
    assert mrmc.startswith(f'Question "overall", {HUMAN} vs {MODEL}, mean score: no multi-reader')
    assert "not a crossed design" in mrmc
    assert facts["design"][0] == "3 cases; 6 outputs rated, each by 2 raters."
    assert facts["sources"] == [
        f"{HUMAN} (human reference).",
        f"{MODEL} (model): outputs imported, not generated in evalapp.",
    ]
    result = alpha_of(rated_study)
    low, high = result.detail["ci"]
    used = result.detail["resamples_used"]
    assert 900 < used < 1000  # some resamples draw only one value and have no alpha
    # The alpha itself, independently: ordinal alpha by the coincidence-matrix definition.
    observations = [
        Observation(str(r.assignment.item_id), str(r.assignment.rater_id), r.value)
        for r in Rating.objects.filter(assignment__study=rated_study).select_related("assignment")
    ]
    expected = coincidence_alpha(observations, "ordinal", [1, 2, 3, 4, 5])
    assert result.value == pytest.approx(expected, abs=1e-9)
    assert facts["agreement"][0].startswith(
        f'Question "overall": Krippendorff\'s alpha, ordinal metric = {expected:.3f}; 95% CI '
        f"for these raters (cases random) {low:.3f} to {high:.3f} (bias-corrected and "
        f"accelerated (BCa) bootstrap over cases, Efron 1987: 1000 resamples of which {used} "
        "defined it, seed 1234); for raters like these (raters and cases random) "
    )
    assert facts["agreement"][0].endswith("; 6 units, 3 raters, 12 ratings.")
    percent = rated_study.results.get(statistic="percent_agreement", source="")
    assert facts["agreement"][1].startswith('Question "overall", the same ratings: ')
    assert f"mean over units = {percent.value:.3f} (95% CI" in facts["agreement"][1]
    assert percent.value == pytest.approx(5 / 6)  # one unit of six has its pair disagree
    assert len(facts["agreement"]) == 2  # no judge, no hidden repeats
    assert facts["questions"][0] == (
        'Question "overall": How well does the summary capture the question? Answered as: '
        "Likert scale (1 = Very poor; 2 = Poor; 3 = Acceptable; 4 = Good; 5 = Excellent). "
        "Analysed as ordinal data."
    )


def test_using_the_evidence_fills_the_notes_and_a_later_change_flags_it_stale(
    client, linked_report, study_admin, rated_study
):
    client.force_login(study_admin)
    page = client.get(reverse("report_detail", args=[linked_report.token])).content.decode()
    assert "Evidence from the linked study" in page
    assert "mean rating 4.00 over 6 ratings" in page

    url = reverse("response_use_evidence", args=[linked_report.token, "3.2"])
    item_html = client.post(url, headers={"HX-Request": "true"}).content.decode()
    assert "In notes" in item_html
    notes = Response.objects.get(item__code="3.2").notes
    assert notes.startswith(
        'From the evalapp reader study "Summaries of patient questions" '
        "(models and references compared, with their parameters, ratings per source):\n- "
    )
    assert f'- Question "overall", {MODEL}: mean rating 4.00 over 6 ratings.' in notes

    # One more rating changes a mean: the notes no longer match the study.
    assignment = rated_study.assignments.filter(item__output__source__label=MODEL).first()
    study_services.rating_save(
        assignment=assignment, question=rated_study.questions.get(), answer=1
    )
    page = client.get(reverse("report_detail", args=[linked_report.token])).content.decode()
    assert "Changed since used" in page
    assert "Update the notes with these facts" in page
    client.post(url, headers={"HX-Request": "true"})
    assert "mean rating 3.50 over 6 ratings" in Response.objects.get(item__code="3.2").notes
    page = client.get(reverse("report_detail", args=[linked_report.token])).content.decode()
    assert "Changed since used" not in page


def test_assessors_who_are_not_study_admins_never_see_the_studys_facts(
    client, linked_report, assessors
):
    services.report_add_assessor(report=linked_report, user=assessors[0])
    client.force_login(assessors[0])
    page = client.get(reverse("report_detail", args=[linked_report.token])).content.decode()
    assert "shown to its admins only" in page
    for name in (MODEL, HUMAN, "mean rating"):
        assert name not in page
    url = reverse("response_use_evidence", args=[linked_report.token, "3.2"])
    client.post(url, headers={"HX-Request": "true"})
    assert not Response.objects.filter(notes__contains=MODEL).exists()


def test_recomputing_the_same_numbers_does_not_make_used_facts_stale(
    client, linked_report, study_admin, rated_study
):
    client.force_login(study_admin)
    url = reverse("response_use_evidence", args=[linked_report.token, "1.4"])
    client.post(url, headers={"HX-Request": "true"})
    run = TaskRun.objects.create(study=rated_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    study_services.agreement_compute(run=study_services.task_run_claim(run_id=run.pk))
    page = client.get(reverse("report_detail", args=[linked_report.token])).content.decode()
    assert "In notes" in page
    assert "Changed since used" not in page
