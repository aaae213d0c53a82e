"""Assisted reading, the scorer: answers no accepted wording matched wait in a queue of their
own, decided one at a time by a clinician who sees neither reader nor arm; a decision moves
the answer out of "pending" and into the statistics."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.authtoken.models import Token

from annotation import services
from annotation.models import AnswerScore, Membership, Output, Question
from annotation.selectors.reading import scorer_queue
from tests.factories import UserFactory
from tests.reading_support import reading_study
from tests.support.words import mentions

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


def test_a_scorer_cannot_also_read_the_study(study_admin, raters):
    study = reading_study(study_admin, raters[:1])  # a draft: readers may still join
    scorer = UserFactory(username="scorer")
    services.scorer_add(study=study, user=scorer)
    with pytest.raises(ValidationError, match="scorer scores this study's answers"):
        services.study_add_raters(study=study, users=[raters[1], scorer])
    assert not study.memberships.filter(user__in=[scorer, raters[1]]).exists()


def test_a_scorer_who_is_also_a_member_is_refused_the_scorer_pages(client, scored):
    study, scorer = scored
    client.force_login(scorer)
    url = reverse("scorer_next", args=[study.token])
    assert client.get(url).status_code != 404
    # As one added before readers were checked against scorers: no longer blind, refused.
    Membership.objects.create(study=study, user=scorer, role=Membership.Role.RATER, pseudonym="R9")
    assert client.get(url).status_code == 404


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
    for bad in ("²", "٣", "two", "-1"):  # digits to str.isdigit, or no number: refused, no 500
        refused = client.post(url, {"rank": bad}, follow=True)
        assert refused.status_code == 200, bad
        assert "Choose an entry by its number" in refused.text, bad
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


def test_the_home_page_lists_the_studies_a_scorer_scores_with_their_queue(
    client, scored, raters, study_admin
):
    study, scorer = scored
    client.force_login(scorer)
    home = " ".join(client.get(reverse("rater_home")).text.split())
    queue = reverse("scorer_next", args=[study.token])
    assert f'href="{queue}"' in home
    assert "Answers to score" in home
    assert "8 answers wait for your decision" in home  # scorer_queue's 8, counted apart
    assert len(scorer_queue(study=study, user=scorer)) == 8
    assert "No study is waiting for you" not in home
    # Blinded: nothing of arms, sources or readers; no reader's page either.
    secrets = ["R1", "llm", "unassisted", "Assistant", raters[0].username, "Model X", "Model Y"]
    secrets += list(study.assignments.values_list("token", flat=True))
    for secret in secrets:
        assert not mentions(home, secret), secret
    assert reverse("rater_resume", args=[study.token]) not in home
    # One decided: one fewer waits; decided in full, the study stays listed with none waiting.
    tokens = scorer_queue(study=study, user=scorer)
    decide = reverse("scorer_item", args=[study.token, tokens[0]])
    client.post(decide, {"rank": "1"})
    home = " ".join(client.get(reverse("rater_home")).text.split())
    assert "7 answers wait for your decision" in home
    for token in tokens[1:]:
        client.post(reverse("scorer_item", args=[study.token, token]), {"rank": ""})
    home = " ".join(client.get(reverse("rater_home")).text.split())
    assert "No answer waits for your decision" in home
    assert f'href="{queue}"' in home
    # Readers and admins of the study are not scorers: no queue on their home page.
    for user in (raters[0], study_admin):
        client.force_login(user)
        assert queue not in client.get(reverse("rater_home")).text


def _api(client, user, method: str, url: str, body: dict | None = None):
    headers = {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}
    call = getattr(client, method)
    if body is None:
        return call(url, headers=headers)
    return call(url, body, content_type="application/json", headers=headers)


def test_admins_manage_scorers_through_the_api_and_decisions_outlive_a_scorer(
    client, scored, study_admin, raters
):
    study, scorer = scored
    url = f"/api/v1/studies/{study.token}/scorers/"
    assert _api(client, study_admin, "get", url).json() == [{"username": "scorer", "decided": 0}]
    token = scorer_queue(study=study, user=scorer)[0]
    services.answer_score_decide(
        score=AnswerScore.objects.get(token=token), scorer=scorer, right=True, rank=1
    )
    second = UserFactory(username="second-scorer")
    added = _api(client, study_admin, "post", url, {"username": "second-scorer"})
    assert (added.status_code, added.json()) == (201, {"username": "second-scorer", "decided": 0})
    # Adding an existing scorer again changes nothing, and says what they decided.
    again = _api(client, study_admin, "post", url, {"username": "scorer"})
    assert (again.status_code, again.json()) == (200, {"username": "scorer", "decided": 1})
    assert _api(client, study_admin, "get", url).json() == [
        {"username": "scorer", "decided": 1},
        {"username": "second-scorer", "decided": 0},
    ]
    # A reader, an admin or nobody at all cannot be one.
    for name in (raters[0].username, study_admin.username, "no-such-person"):
        refused = _api(client, study_admin, "post", url, {"username": name})
        assert refused.status_code == 400, name
    # Only the study's admins reach the list.
    assert _api(client, raters[0], "get", url).status_code == 403
    assert _api(client, second, "get", url).status_code == 404

    assert _api(client, study_admin, "delete", f"{url}scorer/").status_code == 204
    assert _api(client, study_admin, "delete", f"{url}scorer/").status_code == 404
    assert [row["username"] for row in _api(client, study_admin, "get", url).json()] == [
        "second-scorer"
    ]
    kept = AnswerScore.objects.get(token=token)
    assert (kept.outcome, kept.by, kept.scorer) == ("right", "scorer", scorer)
    client.force_login(scorer)
    assert client.get(reverse("scorer_next", args=[study.token])).status_code == 404


def test_the_api_has_a_judge_score_a_reading_studys_answers(client, scored, study_admin):
    study, _ = scored
    judge = services.judge_create(
        study=study, label="J", base_url="http://127.0.0.1:9/v1", model_name="m"
    )
    url = f"/api/v1/studies/{study.token}/judges/{judge.pk}/score-answers/"
    assert _api(client, study_admin, "post", url, {"decided_sample": -1}).status_code == 400
    started = _api(client, study_admin, "post", url, {"decided_sample": 3})
    assert started.status_code == 202
    assert (started.json()["kind"], started.json()["decided_sample"]) == ("judge_answers", 3)
    again = _api(client, study_admin, "post", url, {})
    assert again.status_code == 409  # it is already at work


def test_the_dashboard_adds_a_scorer_and_says_why_not(client, study_admin, raters):
    study = reading_study(study_admin, raters[:1])
    UserFactory(username="scorer")
    client.force_login(study_admin)
    url = reverse("reading_scorer_add", args=[study.token])

    def said(username: str) -> list[str]:
        response = client.post(url, {"username": username}, follow=True)
        assert response.redirect_chain[-1][0] == reverse("study_dashboard", args=[study.token])
        return [str(m) for m in response.context["messages"]]

    assert said("nobody") == ["No account has that user name."]
    assert said(raters[0].username) == [
        f"{raters[0].username} is a reader or an admin of the study: a scorer must be blind "
        "to both."
    ]
    assert list(study.scorers.values_list("user__username", flat=True)) == []
    assert said("scorer") == ["scorer scores the answers no accepted wording matches."]
    assert list(study.scorers.values_list("user__username", flat=True)) == ["scorer"]
