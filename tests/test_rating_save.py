import pytest
from django.core.exceptions import ValidationError

from annotation import services
from annotation.models import Rating, RatingRevision

pytestmark = pytest.mark.django_db


@pytest.fixture
def assignment(open_study, raters):
    return open_study.assignments.filter(rater=raters[0]).order_by("position").first()


@pytest.fixture
def question(open_study):
    return open_study.questions.get()


def test_saving_a_rating_does_not_submit_the_item(assignment, question):
    services.rating_save(assignment=assignment, question=question, answer=4)
    assignment.refresh_from_db()
    assert assignment.submitted_at is None
    assert Rating.objects.get(assignment=assignment).value == 4


def test_changes_are_appended_to_history_and_repeats_are_idempotent(assignment, question):
    for value in (4, 4, 2, 5, 5):
        services.rating_save(assignment=assignment, question=question, answer=value)
    rating = Rating.objects.get(assignment=assignment)
    assert rating.value == 5
    assert list(RatingRevision.objects.filter(rating=rating).values_list("value", flat=True)) == [
        4,
        2,
        5,
    ]


def test_values_off_the_scale_are_refused(assignment, question):
    with pytest.raises(ValidationError, match="not a point"):
        services.rating_save(assignment=assignment, question=question, answer=6)
    assert not Rating.objects.exists()


def test_a_locked_study_refuses_ratings(open_study, assignment, question):
    open_study.status = "locked"
    open_study.save()
    assignment.refresh_from_db()
    with pytest.raises(ValidationError, match="locked: answers can no longer change"):
        services.rating_save(assignment=assignment, question=question, answer=3)


def test_not_applicable_is_kept_as_an_answer_but_has_no_value(open_study, assignment):
    question = open_study.questions.get()
    question.allow_na = True
    question.save()
    rating = services.rating_save(assignment=assignment, question=question, answer="na")
    assert (rating.answer, rating.value) == ("na", None)
    assert list(rating.revisions.values_list("answer", "value")) == [("na", None)]


def test_every_required_question_must_be_answered_to_submit(open_study, assignment):
    from annotation.models import Question

    question = open_study.questions.get()
    Question.objects.create(
        study=open_study,
        key="notes",
        prompt="Anything else?",
        kind="text",
        level="",
        required=False,
        order=2,
    )
    harm = Question.objects.create(
        study=open_study, key="harm", prompt="Possible harm?", kind="yes_no", level="nominal"
    )
    services.rating_save(assignment=assignment, question=question, answer=4)
    with pytest.raises(ValidationError, match="Still to answer: Possible harm?"):
        services.assignment_submit(assignment=assignment)
    services.rating_save(assignment=assignment, question=harm, answer="no")
    services.assignment_submit(assignment=assignment)  # the free-text question is optional
    assignment.refresh_from_db()
    assert assignment.submitted_at is not None
