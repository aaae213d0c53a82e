"""Assisted reading, sequential layout: set-up, opening into reads, the unassisted answer
locked, the assisted read beside the model's output, and every answer scored."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotation import services
from annotation.core.reading import allocation
from annotation.models import AnswerScore, Arm, Assignment, Rating, Study
from tests.reading_support import CASES, reading_study


@pytest.fixture
def opened(study_admin, raters):
    study = reading_study(study_admin, raters[:2])
    services.study_open(study=study)
    study.refresh_from_db()
    return study


def _reads(study, rater):
    return list(Assignment.objects.filter(study=study, rater=rater).order_by("position"))


@pytest.mark.django_db
def test_opening_stores_the_sequential_allocation_and_its_digest(opened, raters):
    manifest = allocation.sequential(
        readers=["R1", "R2"], cases=[c[0] for c in CASES], arms=["unassisted", "llm"], seed=7
    )
    assert opened.status == Study.Status.OPEN
    assert opened.manifest_hash == manifest.digest
    stored = sorted(
        (
            a.rater.memberships.get(study=opened).pseudonym,
            a.position,
            a.phase,
            a.arm.key,
            a.item.output.case.external_id,
            a.item.output.source.label,
        )
        for a in Assignment.objects.filter(study=opened).select_related("arm", "item__output__case")
    )
    expected = sorted(
        (r.reader, r.position, r.phase, r.arm, r.case, "Model X") for r in manifest.readings
    )
    assert stored == expected
    assert len(stored) == 2 * 2 * len(CASES)


@pytest.mark.django_db
def test_opening_refuses_a_case_without_accepted_answers(study_admin, raters):
    study = reading_study(study_admin, raters[:1])
    study.cases.filter(external_id="c3").update(accepted_answers=[])
    with pytest.raises(ValidationError) as caught:
        services.study_open(study=study)
    assert caught.value.messages == [
        "Case 'c3', accepted_answers: a ranked answer needs at least one accepted answer"
    ]
    assert not Assignment.objects.filter(study=study).exists()


@pytest.mark.django_db
def test_opening_refuses_a_study_without_an_assisting_arm(study_admin, raters):
    study = reading_study(study_admin, raters[:1])
    Arm.objects.filter(study=study, key="llm").delete()
    with pytest.raises(ValidationError, match="at least one assisting arm"):
        services.study_open(study=study)


@pytest.mark.django_db
def test_an_arm_takes_its_study_sources_only(study_admin, raters):
    study = reading_study(study_admin, raters[:1])
    other = reading_study(study_admin, raters[:1], seed=8)
    foreign = other.sources.get(label="Model Y")
    with pytest.raises(ValidationError, match="another study"):
        services.arm_add(study=study, key="y", kind="source", source=foreign)
    with pytest.raises(ValidationError, match="Say what readers use"):
        services.arm_add(study=study, key="search", kind="tool", description=" ")


@pytest.mark.django_db
def test_the_unassisted_answer_locks_and_then_refuses_changes(opened, raters):
    first, second = _reads(opened, raters[0])[:2]
    question = opened.questions.get(key="answer")
    services.rating_save(assignment=first, question=question, answer=["MI", "Pericarditis"])
    services.assignment_submit(assignment=first)
    first.refresh_from_db()
    assert first.locked_at is not None
    with pytest.raises(services.AnswerLocked):
        services.rating_save(assignment=first, question=question, answer=["Pericarditis"])
    assert Rating.objects.get(assignment=first).answer == ["MI", "Pericarditis"]
    # The assisted read starts from the locked answer, stored with its revision.
    carried = Rating.objects.get(assignment=second)
    assert carried.answer == ["MI", "Pericarditis"]
    assert carried.revisions.count() == 1


@pytest.mark.django_db
def test_the_assisted_read_waits_for_the_lock(opened, raters):
    first, second = _reads(opened, raters[0])[:2]
    question = opened.questions.get(key="answer")
    with pytest.raises(ValidationError, match="First lock your unassisted answer"):
        services.rating_save(assignment=second, question=question, answer=["PE"])
    with pytest.raises(ValidationError, match="First lock your unassisted answer"):
        services.assignment_submit(assignment=second)
    assert not Rating.objects.filter(assignment=second).exists()


@pytest.mark.django_db
def test_every_answer_is_scored_against_the_case(opened, raters):
    first, second = _reads(opened, raters[0])[:2]
    case = first.item.output.case
    answer, synonyms = next((c[2], c[3]) for c in CASES if c[0] == case.external_id)
    question = opened.questions.get(key="answer")
    rating = services.rating_save(assignment=first, question=question, answer=["Anxiety"])
    score = AnswerScore.objects.get(rating_id=rating.pk)
    assert (score.outcome, score.rank, score.length) == ("undecided", None, 1)
    rating = services.rating_save(
        assignment=first, question=question, answer=["Anxiety", answer.upper()]
    )
    score = AnswerScore.objects.get(rating_id=rating.pk)
    assert (score.outcome, score.matched, score.rank, score.length) == ("right", answer, 2, 2)
    services.assignment_submit(assignment=first)
    carried = AnswerScore.objects.get(rating__assignment=second)
    assert (carried.outcome, carried.rank) == ("right", 2)
    rating = services.rating_save(assignment=second, question=question, answer=[])
    assert not AnswerScore.objects.filter(rating_id=rating.pk).exists()


@pytest.mark.django_db
def test_a_rater_page_save_of_a_locked_answer_is_a_409(client, opened, raters):
    first = _reads(opened, raters[0])[0]
    question = opened.questions.get(key="answer")
    services.rating_save(assignment=first, question=question, answer=["PE"])
    services.assignment_submit(assignment=first)
    client.force_login(raters[0])
    url = reverse("rater_item", args=[opened.token, first.token])
    response = client.post(
        url, {"question": "answer", "entry-1": "Pneumonia"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 409
    assert "is locked" in response.text
    assert "X-Answer-Saved" not in response.headers
    assert Rating.objects.get(assignment=first).answer == ["PE"]


@pytest.mark.django_db
def test_the_api_refuses_a_locked_answer_with_409(client, opened, raters):
    first = _reads(opened, raters[0])[0]
    question = opened.questions.get(key="answer")
    services.rating_save(assignment=first, question=question, answer=["PE"])
    services.assignment_submit(assignment=first)
    client.force_login(raters[0])
    url = f"/api/v1/rate/{opened.token}/items/{first.token}/answers/"
    response = client.post(
        url, {"question": "answer", "answer": ["Pneumonia"]}, content_type="application/json"
    )
    assert response.status_code == 409, response.content
    assert "locked" in response.json()["detail"]


@pytest.mark.django_db
def test_the_page_posts_ranked_rows_in_order(client, opened, raters):
    first = _reads(opened, raters[0])[0]
    client.force_login(raters[0])
    url = reverse("rater_item", args=[opened.token, first.token])
    response = client.post(
        url,
        {"question": "answer", "entry-1": " Pneumonia ", "entry-2": "", "entry-3": "PE"},
        headers={"HX-Request": "true"},
    )
    assert response.headers.get("X-Answer-Saved")
    assert Rating.objects.get(assignment=first).answer == ["Pneumonia", "PE"]
    too_many = client.post(
        url, {"question": "answer", "entry-4": "Extra"}, headers={"HX-Request": "true"}
    )
    # A fourth row is not one of the question's k rows: never read.
    assert too_many.headers.get("X-Answer-Saved")
    assert Rating.objects.get(assignment=first).answer == []


@pytest.mark.django_db
def test_a_crossover_study_opens_into_sessions_one_arm_each(client, study_admin, raters):
    study = reading_study(study_admin, raters[:2])
    Study.objects.filter(pk=study.pk).update(reading_layout=Study.ReadingLayout.CROSSOVER)
    services.study_open(study=study)
    study.refresh_from_db()
    manifest = allocation.crossover(
        readers=["R1", "R2"], cases=[c[0] for c in CASES], arms=["unassisted", "llm"], seed=7
    )
    assert study.manifest_hash == manifest.digest
    reads = Assignment.objects.filter(study=study).select_related("arm", "item__output__case")
    stored = sorted(
        (
            r.rater.memberships.get(study=study).pseudonym,
            r.session,
            r.position,
            r.phase,
            r.arm.key,
            r.item.output.case.external_id,
        )
        for r in reads
    )
    assert stored == sorted(
        (m.reader, m.session, m.position, 1, m.arm, m.case) for m in manifest.readings
    )
    # Each session is one arm per (reader, case); a case's two sessions differ in arm.
    for reader in raters[:2]:
        mine = [r for r in reads if r.rater_id == reader.pk]
        for case, *_ in CASES:
            arms = {r.session: r.arm.key for r in mine if r.item.output.case.external_id == case}
            assert sorted(arms) == [1, 2]
            assert set(arms.values()) == {"unassisted", "llm"}
    client.force_login(raters[0])
    for read in (r for r in reads if r.rater_id == raters[0].pk):
        response = client.get(reverse("rater_item", args=[study.token, read.token]))
        page = response.text
        if read.session > 1:  # closed until session 1 is done and its washout has passed
            assert response.status_code == 409
            assert read.item.output.text not in page
            continue
        shows = read.item.output.text in page
        assert shows == (read.arm.key == "llm"), read.arm.key
        assert "Lock my answer" in page  # submitting a crossover read locks it
    # Submitting a crossover read locks it: its case comes back in the other arm later.
    first = min((r for r in reads if r.rater_id == raters[0].pk), key=lambda r: r.position)
    question = study.questions.get(key="answer")
    services.rating_save(assignment=first, question=question, answer=["PE"])
    services.assignment_submit(assignment=first)
    with pytest.raises(services.AnswerLocked, match="submitted and is locked"):
        services.rating_save(assignment=first, question=question, answer=["MI"])
    first.refresh_from_db()
    assert first.locked_at is not None
    assert Rating.objects.get(assignment=first).answer == ["PE"]


@pytest.mark.django_db
def test_the_assisted_read_before_the_lock_links_to_the_unassisted_read(client, opened, raters):
    first, second = _reads(opened, raters[0])[:2]
    client.force_login(raters[0])
    page = client.get(reverse("rater_item", args=[opened.token, second.token])).text
    assert 'id="submit"' not in page  # nothing to submit: it would only be refused
    assert "Submit and go to next" not in page
    assert "Lock your own answer first" in page
    assert reverse("rater_item", args=[opened.token, first.token]) in page
    assert "opens once your answer without assistance is locked" in page
    assert "Read 2 of 2: with assistance" in page


@pytest.mark.django_db
def test_the_lock_asks_first_and_each_read_says_which_it_is(client, opened, raters):
    first, second = _reads(opened, raters[0])[:2]
    client.force_login(raters[0])
    page = client.get(reverse("rater_item", args=[opened.token, first.token])).text
    assert "Read 1 of 2: on your own" in page
    assert "{#" not in page  # no template comment leaks onto the page
    assert "data-confirm-lock" in page
    assert "Lock for good?" in page
    assert "Yes, lock it" in page
    assert "Keep editing" in page
    services.rating_save(
        assignment=first, question=opened.questions.get(key="answer"), answer=["PE"]
    )
    services.assignment_submit(assignment=first)
    locked = client.get(reverse("rater_item", args=[opened.token, first.token])).text
    assert "data-confirm-lock" not in locked  # nothing left to lock: nothing to ask
    assert "Lock for good?" not in locked


@pytest.mark.django_db
def test_the_assisted_read_says_it_starts_from_the_locked_answer(client, opened, raters):
    first, second = _reads(opened, raters[0])[:2]
    question = opened.questions.get(key="answer")
    services.rating_save(assignment=first, question=question, answer=["PE", "MI"])
    services.assignment_submit(assignment=first)
    client.force_login(raters[0])
    url = reverse("rater_item", args=[opened.token, second.token])
    page = client.get(url).text
    assert "Starting from your locked answer" in page
    assert "Saved earlier" not in page
    services.rating_save(assignment=second, question=question, answer=["MI"])
    changed = client.get(url).text
    assert "Saved earlier" in changed
    assert "Starting from your locked answer" not in changed


@pytest.mark.django_db
def test_my_answers_name_each_read_and_offer_only_those_that_can_start(client, opened, raters):
    reads = _reads(opened, raters[0])
    first, second, third, fourth = reads[:4]
    client.force_login(raters[0])
    review = reverse("rater_review", args=[opened.token])
    page = client.get(review).text
    assert "Case 1 – on your own" in page
    assert "Case 1 – with assistance" in page
    assert "Case 2 – on your own" in page
    assert "Case 2 – with assistance" in page
    assert f"Case {len(reads) // 2} – with assistance" in page
    assert "Item 1" not in page
    # The assisted reads cannot start before their unassisted reads are locked: not linked.
    assert reverse("rater_item", args=[opened.token, first.token]) in page
    assert reverse("rater_item", args=[opened.token, second.token]) not in page
    assert reverse("rater_item", args=[opened.token, fourth.token]) not in page
    assert page.count("Opens once you lock your own answer") == len(reads) // 2
    # No arm's key, label or source.
    assert "llm" not in page
    assert "Model X" not in page
    assert "Assistant" not in page
    services.rating_save(
        assignment=first, question=opened.questions.get(key="answer"), answer=["PE"]
    )
    services.assignment_submit(assignment=first)
    after = client.get(review).text
    assert reverse("rater_item", args=[opened.token, second.token]) in after
    assert reverse("rater_item", args=[opened.token, fourth.token]) not in after
    assert after.count("Opens once you lock your own answer") == len(reads) // 2 - 1
