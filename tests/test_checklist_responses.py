"""Answering a checklist: answers must fit their item, history is kept, submit locks."""

import pytest
from django.core.exceptions import ValidationError

from checklists import services
from checklists.models import Response
from tests.support.checklists import answer, answer_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def assessment(appraisal):
    return appraisal.assessments.get(assessor__username="assessor1")


@pytest.mark.parametrize(
    ("code", "value", "message"),
    [
        ("1.1", "maybe", "Item 1.1 takes one of: yes, no, na; got 'maybe'."),
        ("1.1", ["yes"], "Item 1.1 takes one of: yes, no, na; got ['yes']."),
        ("6.1", "tier_4", "Item 6.1 takes one of: tier_1, tier_2a, tier_2b, tier_3; got 'tier_4'."),
        (
            "1.5",
            ["categorical", "images"],
            "Item 1.5 has no choice 'images'; choose from: categorical, continuous, unstructured.",
        ),
        (
            "1.5",
            "categorical",
            "Item 1.5 takes a list of any of: categorical, continuous, unstructured; "
            "got 'categorical'.",
        ),
        ("1.5", ["continuous", "continuous"], "Item 1.5: a choice is ticked twice."),
    ],
)
def test_an_answer_that_does_not_fit_its_item_is_refused(assessment, code, value, message):
    with pytest.raises(ValidationError) as caught:
        answer(assessment, code, value)
    assert caught.value.messages == [message]
    assert not Response.objects.filter(answer__isnull=False).exists()


def test_ticked_boxes_are_kept_in_the_checklists_order_and_none_ticked_is_no_answer(assessment):
    response = answer(assessment, "3.3", ["clinical_utility", "overlap_accuracy"])
    assert response.answer == ["overlap_accuracy", "clinical_utility"]
    response = answer(assessment, "3.3", [])
    assert response.answer is None
    assert not response.is_answered


def test_every_saved_state_is_kept_in_the_history(assessment):
    answer(assessment, "1.2", "no")
    answer(assessment, "1.2", "yes", location="Introduction")
    answer(assessment, "1.2", "yes", location="Introduction")  # nothing changed: no new revision
    response = answer(assessment, "1.2", "yes", notes="Stated in the last paragraph.")
    history = list(response.revisions.values_list("answer", "location", "notes"))
    assert history == [
        ("no", "", ""),
        ("yes", "Introduction", ""),
        ("yes", "Introduction", "Stated in the last paragraph."),
    ]
    assert set(response.revisions.values_list("saved_by__username", flat=True)) == {"assessor1"}


def test_where_reported_has_a_length_limit(assessment):
    with pytest.raises(ValidationError, match="at most 200 characters"):
        answer(assessment, "1.2", "yes", location="p" * 201)


def test_only_the_assessor_changes_their_answers(assessment, assessors):
    item = assessment.report.definition.items.get(code="1.1")
    with pytest.raises(ValidationError, match="Only the assessor"):
        services.response_save(assessment=assessment, item=item, user=assessors[1], answer="yes")


def test_an_item_of_another_checklist_is_refused(assessment, mi_claim):
    from checklists.models import ChecklistDefinition

    other = ChecklistDefinition.objects.get(slug="elevate-genai").items.get(code="1.1")
    with pytest.raises(ValidationError, match="belongs to another checklist"):
        services.response_save(
            assessment=assessment, item=other, user=assessment.assessor, answer="yes"
        )


def test_submit_needs_every_item_answered(assessment):
    answer(assessment, "1.1", "yes")
    with pytest.raises(ValidationError) as caught:
        services.assessment_submit(assessment=assessment)
    assert caught.value.messages[0].startswith("22 items still need an answer: 1.2, 1.3, 1.4")
    assessment.refresh_from_db()
    assert assessment.submitted_at is None


def test_submit_locks_the_answers_and_is_idempotent(assessment):
    answer_all(assessment)
    first = services.assessment_submit(assessment=assessment).submitted_at
    assert first is not None
    assert services.assessment_submit(assessment=assessment).submitted_at == first
    with pytest.raises(ValidationError, match="submitted on .* and are locked"):
        answer(assessment, "1.1", "no")
    assert Response.objects.get(assessment=assessment, item__code="1.1").answer == "yes"


def test_a_study_rater_cannot_be_an_assessor_of_a_report_on_that_study(
    open_study, study_admin, raters, mi_claim
):
    report = services.report_create(
        lead=study_admin, definition=mi_claim, title="Paper", study=open_study
    )
    with pytest.raises(ValidationError, match="rates in the linked study"):
        services.report_add_assessor(report=report, user=raters[0])
    assert not report.assessments.filter(assessor=raters[0]).exists()


def test_only_a_study_admin_can_link_the_study(open_study, outsider, mi_claim):
    with pytest.raises(ValidationError, match="only a study you administer"):
        services.report_create(lead=outsider, definition=mi_claim, title="P", study=open_study)


def test_none_of_these_cannot_be_ticked_with_another_choice(assessment):
    with pytest.raises(ValidationError) as caught:
        answer(assessment, "5.3", ["discussion", "none"])
    assert caught.value.messages == [
        "Item 5.3: 'None of these' cannot be ticked with other choices."
    ]
    assert answer(assessment, "5.3", ["none"]).answer == ["none"]


def test_the_same_evidence_used_twice_records_one_revision(assessment):
    item = assessment.report.definition.items.get(code="1.4")
    for _ in range(2):
        response = services.response_use_evidence(
            assessment=assessment, item=item, user=assessment.assessor, text="Facts.", digest="d1"
        )
    assert response.revisions.count() == 1
