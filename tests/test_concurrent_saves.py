"""Two tabs saving the same answer at the same moment: one rating, full history, no error."""

import threading

import pytest
from django.db import connection

from annotation import services
from annotation.models import Rating, RatingRevision


@pytest.mark.django_db(transaction=True)
def test_two_tabs_saving_the_same_field_at_once_keep_one_rating_and_both_changes(
    open_study, raters
):
    assignment = open_study.assignments.filter(rater=raters[0]).first()
    question = open_study.questions.get()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def save(value: int) -> None:
        try:
            barrier.wait()
            for _ in range(5):
                services.rating_save(assignment=assignment, question=question, answer=value)
        except BaseException as exc:  # reported below, with the assertion
            errors.append(exc)
        finally:
            connection.close()

    tabs = [threading.Thread(target=save, args=(value,)) for value in (2, 4)]
    for tab in tabs:
        tab.start()
    for tab in tabs:
        tab.join()

    assert errors == []
    rating = Rating.objects.get(assignment=assignment, question=question)
    history = list(RatingRevision.objects.filter(rating=rating).values_list("answer", flat=True))
    # Every change is in the history, none twice in a row, and the rating is the last of them.
    assert set(history) == {2, 4}
    assert all(a != b for a, b in zip(history, history[1:], strict=False))
    assert rating.answer == history[-1]
