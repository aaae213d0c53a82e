"""The dashboard of an open assisted-reading study: nothing offered that the study refuses
(inviting, adding, reassigning or removing readers), progress counted by arm, and the
submitted-reads line said for reads; the items' line said right for one rating and for k."""

import re
from types import SimpleNamespace

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.urls import reverse

from annotation import selectors, services
from annotation.models import Invitation
from annotation.services.statistics.study_figures import study_figures_store
from tests.factories import UserFactory
from tests.reading_support import reading_study

pytestmark = pytest.mark.django_db


def _raters_card(client, study) -> str:
    page = client.get(reverse("study_dashboard", args=[study.token])).text
    return page.split('id="raters"')[1].split("</section>")[0]


def test_an_open_reading_study_offers_no_refused_rater_action(client, study_admin, raters):
    study = reading_study(study_admin, raters[:2])
    client.force_login(study_admin)
    client.post(reverse("study_invite", args=[study.token]), {"emails": "late@example.org"})
    draft = _raters_card(client, study)
    assert "Invite raters" in draft  # a draft still takes readers
    assert "readers-fixed" not in draft
    services.study_open(study=study)
    card = _raters_card(client, study)
    for refused in ("Invite raters", "Add raters", "Reassign unstarted", "Remove R1", "take over"):
        assert refused not in card
    assert "Readers join an assisted-reading study before it opens" in card
    # What still works stays: the pending invitation can be withdrawn.
    invitation = Invitation.objects.get(study=study)
    assert "late@example.org" in card
    assert reverse("study_revoke_invitation", args=[study.token, invitation.pk]) in card
    # The link itself says the study takes no one now, before anyone signs up through it.
    invitee = UserFactory(username="late", email="late@example.org")
    with pytest.raises(ValidationError, match="This study no longer takes raters."):
        services.invitation_accept(token=invitation.token, user=invitee)


def test_an_open_reading_study_sends_no_invitation_that_could_not_be_used(
    client, study_admin, raters
):
    study = reading_study(study_admin, raters[:1])
    services.study_open(study=study)
    client.force_login(study_admin)
    response = client.post(
        reverse("study_invite", args=[study.token]), {"emails": "late@example.org"}, follow=True
    )
    said = [str(m) for m in response.context["messages"]]
    assert said == [
        "Readers join an assisted-reading study before it opens: no invitation was sent."
    ]
    assert not Invitation.objects.filter(study=study).exists()
    assert mail.outbox == []


def test_progress_counts_reads_by_arm_not_by_the_items_source(study_admin, raters):
    study = reading_study(study_admin, raters[:2])
    services.study_open(study=study)
    question = study.questions.get(key="answer")
    first = study.assignments.filter(rater=raters[0]).order_by("position")[0]
    services.rating_save(assignment=first, question=question, answer=["PE"])
    services.assignment_submit(assignment=first)
    # Two readers, four cases: eight reads unassisted, eight beside Model X's output; the
    # locked answer is the assisted read's first revision, not its submission.
    assert selectors.study_progress_by_source(study=study) == [
        ("unassisted", 1, 8),
        ("llm: Model X's output shown", 0, 8),
    ]
    assert selectors.study_items_short_of_k(study=study) == 15


def test_the_reading_pace_card_counts_reads(client, study_admin, raters):
    study = reading_study(study_admin, raters[:1])
    services.study_open(study=study)
    study_figures_store(study=study)
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[study.token])).text
    card = page.split('id="pace"')[1].split("</section>")[0]
    assert "<th>Arm</th>" in card
    assert re.search(r'id="short-of-k">8 reads not yet submitted\.</p>', card)
    assert "ratings" not in card.split('id="short-of-k"')[1].split("</p>")[0]


@pytest.mark.parametrize(
    ("reading", "k", "left", "said"),
    [
        (False, 1, 0, "Every item has its rating."),
        (False, 3, 0, "Every item has its 3 ratings."),
        (False, 1, 1, "1 item still short of a submitted rating."),
        (False, 3, 2, "2 items still short of 3 submitted ratings."),
        (True, 1, 0, "Every read is submitted."),
        (True, 1, 1, "1 read not yet submitted."),
    ],
)
def test_the_short_of_k_line_is_said_right_for_one_and_for_many(reading, k, left, said):
    study = SimpleNamespace(is_reading=reading, raters_per_item=k, status="open")
    stored = SimpleNamespace(
        short_of_k=left, by_source=[], quality=[], fast_threshold=3.0, computed_at=None
    )
    pace = SimpleNamespace(total=4, done=4 - left, days=[], stalled=[], eta_days=None)
    html = render_to_string(
        "annotation/_pace.html", {"study": study, "stored": stored, "pace": pace}
    )
    assert re.search(r'id="short-of-k">([^<]*)</p>', html).group(1) == said
