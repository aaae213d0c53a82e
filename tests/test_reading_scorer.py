"""Assisted reading, the scorer: answers no accepted wording matched wait in a queue of their
own, decided one at a time by a clinician who sees neither reader nor arm; a decision moves
the answer out of "pending" and into the statistics."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotation import services
from annotation.models import AnswerScore, Output, Question
from annotation.selectors.reading import scorer_queue
from tests.factories import UserFactory
from tests.reading_support import reading_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(study_admin, raters):
    """Reader R1 answers every case with an unlisted wording, then keeps it with assistance."""
    study = reading_study(study_admin, raters[:1])
    services.study_open(study=study)
    question = study.questions.get(kind=Question.Kind.ANSWER)
    for read in study.assignments.filter(rater=raters[0]).order_by("position"):
        if read.phase == 1:
            services.rating_save(assignment=read, question=question, answer=["Unlisted", "X"])
        services.assignment_submit(assignment=read)
    scorer = UserFactory(username="scorer")
    services.scorer_add(study=study, user=scorer)
    return study, scorer


def test_a_scorer_is_neither_reader_nor_admin(scored, study_admin, raters):
    study, _ = scored
    for member in (study_admin, raters[0]):
        with pytest.raises(ValidationError, match="must be blind"):
            services.scorer_add(study=study, user=member)


def test_the_queue_holds_every_undecided_answer_in_a_seeded_order(scored):
    study, scorer = scored
    queue = scorer_queue(study=study, user=scorer)
    undecided = AnswerScore.objects.filter(outcome="undecided")
    assert sorted(queue) == sorted(undecided.values_list("token", flat=True))
    assert len(queue) == 8  # 4 cases, unassisted and assisted
    assert scorer_queue(study=study, user=scorer) == queue


def test_the_scorer_page_shows_the_answer_and_nothing_of_reader_or_arm(client, scored, raters):
    study, scorer = scored
    client.force_login(scorer)
    page = client.get(reverse("scorer_next", args=[study.token]), follow=True).text
    assert "1. Unlisted" in page
    assert "Counts as right" in page
    secrets = ["R1", "llm", "unassisted", raters[0].username, "Model X", "Model Y"]
    secrets += list(study.assignments.values_list("token", flat=True))
    secrets += list(Output.objects.filter(case__study=study).values_list("text", flat=True))
    for secret in secrets:
        assert secret not in page


def test_a_decision_counts_in_the_score(client, scored):
    study, scorer = scored
    client.force_login(scorer)
    token = scorer_queue(study=study, user=scorer)[0]
    url = reverse("scorer_item", args=[study.token, token])
    client.post(url, {})  # nothing chosen: refused, nothing decided
    assert AnswerScore.objects.get(token=token).outcome == "undecided"
    response = client.post(url, {"rank": "2"})
    assert response.url == reverse("scorer_next", args=[study.token])
    score = AnswerScore.objects.get(token=token)
    assert (score.outcome, score.by, score.rank, score.scorer) == ("right", "scorer", 2, scorer)
    client.post(reverse("scorer_item", args=[study.token, token]), {"rank": ""})
    score.refresh_from_db()
    assert (score.outcome, score.rank) == ("wrong", None)
    assert token not in scorer_queue(study=study, user=scorer)


def test_only_the_study_scorers_reach_the_queue(client, scored, raters, study_admin):
    study, _ = scored
    for user in (raters[0], study_admin):
        client.force_login(user)
        assert client.get(reverse("scorer_next", args=[study.token])).status_code == 404
