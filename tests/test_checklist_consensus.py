"""The consensus view: per-item disagreements, percent agreement and nominal alpha across items."""

import pytest
from django.urls import reverse

from annotation.core.stats.agreement import Observation
from checklists import selectors, services
from checklists.models import Response
from tests.factories import UserFactory
from tests.support.checklists import answer_all
from tests.test_agreement import coincidence_alpha

pytestmark = pytest.mark.django_db

DIFFERENCES = {
    "assessor1": {"1.1": "no", "6.1": "tier_3"},
    "assessor2": {"1.1": "no", "1.5": ["categorical", "unstructured"]},
    "assessor3": {"3.4": "na"},
}


@pytest.fixture
def three_submitted(appraisal):
    services.report_add_assessor(report=appraisal, user=UserFactory(username="assessor3"))
    for assessment in appraisal.assessments.all():
        answer_all(assessment, DIFFERENCES[assessment.assessor.username])
        services.assessment_submit(assessment=assessment)
    return appraisal


def test_disagreements_percent_agreement_and_alpha(three_submitted):
    view = selectors.consensus_view(report=three_submitted)
    assert [a.assessor.username for a in view.assessors] == ["assessor1", "assessor2", "assessor3"]
    disagreeing = [row.item.code for row in view.rows if row.agree is False]
    assert disagreeing == ["1.1", "1.5", "3.4", "6.1"]
    row_15 = next(row for row in view.rows if row.item.code == "1.5")
    assert row_15.answers == [
        "Categorical",
        "Categorical; Unstructured (free text, images)",
        "Categorical",
    ]
    # 19 items where all three pairs agree, 4 where one assessor differs (1 of 3 pairs agree).
    assert view.percent_agreement == pytest.approx((19 + 4 / 3) / 23, abs=1e-12)
    # Nominal alpha from an independent coincidence-matrix implementation, one category per
    # distinct answer (a set of ticked boxes is one category).
    categories: dict[str, int] = {}
    observations = []
    for assessment in view.assessors:
        for response in Response.objects.filter(assessment=assessment):
            key = selectors.answer_key(response.answer)
            code = categories.setdefault(key, len(categories))
            observations.append(Observation(response.item.code, assessment.assessor.username, code))
    expected = coincidence_alpha(observations, "nominal", list(range(len(categories))))
    assert view.alpha.alpha == pytest.approx(expected, abs=1e-9)
    assert view.alpha.n_units == 23


def test_the_consensus_page_lists_disagreements_and_the_lead_records_answers(
    client, three_submitted
):
    client.force_login(three_submitted.lead)
    url = reverse("report_consensus", args=[three_submitted.token])
    page = client.get(url + "?show=disagreements").content.decode()
    assert page.count('class="disagree"') == 4
    assert "4 items with disagreement" in page
    save = reverse("consensus_save", args=[three_submitted.token, "1.1"])
    status = client.post(save, {"answer": "no"}, headers={"HX-Request": "true"})
    assert "Saved" in status.content.decode()
    consensus = three_submitted.assessments.get(kind="consensus")
    assert consensus.responses.get(item__code="1.1").answer == "no"
    bad = client.post(save, {"answer": "perhaps"}, headers={"HX-Request": "true"})
    assert "Item 1.1 takes one of: yes, no, na; got &#x27;perhaps&#x27;." in bad.content.decode()
    assert consensus.responses.get(item__code="1.1").answer == "no"


def test_pending_assessors_are_named_but_their_answers_are_not_shown(client, appraisal):
    first, second = appraisal.assessments.order_by("assessor__username")
    answer_all(first)
    services.assessment_submit(assessment=first)
    answer_all(second, {"1.1": "na"})
    client.force_login(appraisal.lead)
    page = client.get(reverse("report_consensus", args=[appraisal.token])).content.decode()
    assert "still appraising" in page
    assert "Agreement needs two submitted appraisals; 1 so far." in page
    assert "<th>assessor1</th>" in page
    assert "<th>assessor2</th>" not in page  # no column of answers for the one still at work


def test_the_lead_records_every_unanimous_answer_in_one_step(client, three_submitted):
    client.force_login(three_submitted.lead)
    client.post(reverse("consensus_save", args=[three_submitted.token, "1.2"]), {"answer": "no"})
    response = client.post(reverse("consensus_accept_unanimous", args=[three_submitted.token]))
    assert response.status_code == 302
    consensus = three_submitted.assessments.get(kind="consensus")
    recorded = dict(consensus.responses.values_list("item__code", "answer"))
    # 19 unanimous items, one of which (1.2) the lead had already decided otherwise.
    assert len(recorded) == 19
    assert recorded["1.2"] == "no"
    assert recorded["1.3"] == "yes"
    assert "1.5" not in recorded  # a disagreement stays for the lead to decide


def test_the_lead_clears_a_consensus_answer_with_the_empty_choice(client, three_submitted):
    client.force_login(three_submitted.lead)
    url = reverse("consensus_save", args=[three_submitted.token, "6.1"])
    client.post(url, {"answer": "tier_1"}, headers={"HX-Request": "true"})
    cleared = client.post(url, {"answer": ""}, headers={"HX-Request": "true"})
    assert "Saved" in cleared.content.decode()
    consensus = three_submitted.assessments.get(kind="consensus")
    assert consensus.responses.get(item__code="6.1").answer is None


def test_unanimity_needs_two_submitted_appraisals(client, appraisal):
    first = appraisal.assessments.order_by("assessor__username").first()
    answer_all(first)
    services.assessment_submit(assessment=first)
    client.force_login(appraisal.lead)
    client.post(reverse("consensus_accept_unanimous", args=[appraisal.token]))
    assert not Response.objects.filter(assessment__kind="consensus").exists()
