"""Draft -> open -> locked -> archived, with what each state allows enforced on the server."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotation import services
from annotation.models import Rating, Study

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, study_admin):
    client.force_login(study_admin)
    return client


def test_an_open_study_locks_and_then_archives(admin_client, open_study):
    admin_client.post(reverse("study_lock", args=[open_study.token]), {"confirm": "yes"})
    open_study.refresh_from_db()
    assert open_study.status == Study.Status.LOCKED
    admin_client.post(reverse("study_archive", args=[open_study.token]), {"confirm": "yes"})
    open_study.refresh_from_db()
    assert open_study.status == Study.Status.ARCHIVED


@pytest.mark.parametrize(
    ("status", "move", "message"),
    [
        ("draft", services.study_lock, "Only a study that is open for rating can be locked."),
        ("open", services.study_archive, "Only a study that is locked can be archived."),
        ("archived", services.study_lock, "Only a study that is open for rating can be locked."),
    ],
)
def test_states_change_only_in_order(open_study, status, move, message):
    Study.objects.filter(pk=open_study.pk).update(status=status)
    with pytest.raises(ValidationError) as caught:
        move(study=open_study)
    assert caught.value.messages == [message]
    open_study.refresh_from_db()
    assert open_study.status == status


def test_after_locking_a_rater_reads_but_cannot_change_answers(client, open_study, raters):
    rater = raters[0]
    assignment = open_study.assignments.filter(rater=rater).first()
    question = open_study.questions.get()
    services.rating_save(assignment=assignment, question=question, answer=4)
    services.study_lock(study=open_study)
    client.force_login(rater)
    url = reverse("rater_item", args=[open_study.token, assignment.token])
    page = client.get(url).text
    assert "This study is locked" in page
    assert "<fieldset disabled>" in page
    assert 'id="submit"' not in page
    response = client.post(
        url, {"question": "overall", "answer": "2"}, headers={"HX-Request": "true"}
    )
    assert "This study is locked: answers can no longer change." in response.text
    assert Rating.objects.get(assignment=assignment).answer == 4
    submit = client.post(
        reverse("rater_submit", args=[open_study.token, assignment.token]), follow=True
    )
    assert "This study is locked" in submit.text
    # The lock promises read-only access: the study stays in the rater's list, marked locked.
    home = client.get(reverse("rater_home")).text
    assert home.count(open_study.title) == 1
    assert "Locked" in home


def test_only_the_studys_admins_change_its_state(client, open_study, raters, outsider):
    for user in (raters[0], outsider):
        client.force_login(user)
        assert client.post(reverse("study_lock", args=[open_study.token])).status_code == 404
    open_study.refresh_from_db()
    assert open_study.status == Study.Status.OPEN
