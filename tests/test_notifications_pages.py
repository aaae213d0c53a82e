"""The dashboard's reminders card and /api/v1/studies/<token>/notifications/: the settings,
what was sent (raters by pseudonym), and who may see or change them."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from annotation import services
from annotation.models import Notification
from tests.notifications_support import make_idle

pytestmark = pytest.mark.django_db


@pytest.fixture
def reminded(open_study, raters, study_admin):
    """The open study, idle for 10 days, with one reminder sent to each rater."""
    make_idle(open_study, [study_admin, *raters])
    services.notifications_send_due()
    open_study.refresh_from_db()
    return open_study


def dashboard(client, study):
    return client.get(reverse("study_dashboard", args=[study.token])).text


def test_the_dashboard_lists_the_reminders_sent_by_pseudonym(client, study_admin, reminded):
    client.force_login(study_admin)
    page = dashboard(client, reminded)
    card = page[page.index('id="notifications"') :]
    card = card[: card.index("</section>")]
    assert card.count("Reminder to a stalled rater") == 3
    assert all(f"<td>R{n}</td>" in card for n in (1, 2, 3))
    assert "rater1" not in card


def test_the_admin_turns_reminders_off_in_place_with_htmx(client, study_admin, reminded):
    client.force_login(study_admin)
    url = reverse("study_notifications", args=[reminded.token])
    response = client.post(
        url,
        {"reminder_stall_days": "5", "admin_notices_enabled": "on"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert 'data-testid="notifications-saved"' in response.text
    assert response.text.lstrip().startswith("<section")
    reminded.refresh_from_db()
    assert (reminded.reminders_enabled, reminded.reminder_stall_days) == (False, 5)
    assert reminded.admin_notices_enabled is True


def test_a_bad_stall_days_is_refused_naming_the_field(client, study_admin, reminded):
    client.force_login(study_admin)
    url = reverse("study_notifications", args=[reminded.token])
    response = client.post(
        url, {"reminders_enabled": "on", "reminder_stall_days": "0"}, follow=True
    )
    assert "Days without a submit before a reminder:" in response.text
    reminded.refresh_from_db()
    assert (reminded.reminders_enabled, reminded.reminder_stall_days) == (True, 3)


@pytest.mark.parametrize("who", ["rater", "outsider"])
def test_only_the_studys_admins_change_the_settings(client, reminded, raters, outsider, who):
    client.force_login(raters[0] if who == "rater" else outsider)
    url = reverse("study_notifications", args=[reminded.token])
    response = client.post(url, {"reminder_stall_days": "9"})
    assert response.status_code == 404
    reminded.refresh_from_db()
    assert (reminded.reminders_enabled, reminded.reminder_stall_days) == (True, 3)


def api(client, user, method, path, body=None):
    token = Token.objects.get_or_create(user=user)[0].key
    call = getattr(client, method)
    kwargs = {"headers": {"Authorization": f"Token {token}"}}
    if body is not None:
        kwargs.update(data=body, content_type="application/json")
    return call(path, **kwargs)


def test_the_api_lists_what_was_sent(client, study_admin, reminded, raters):
    path = f"/api/v1/studies/{reminded.token}/notifications/"
    rows = api(client, study_admin, "get", path).json()["results"]
    assert sorted(row["recipient"] for row in rows) == ["R1", "R2", "R3"]
    first = rows[0]
    assert (first["kind"], first["status"], first["attempts"], first["task_run"]) == (
        "stalled",
        "sent",
        1,
        None,
    )
    assert api(client, raters[0], "get", path).status_code == 403


def test_the_api_reads_and_patches_the_settings(client, study_admin, reminded):
    path = f"/api/v1/studies/{reminded.token}/notifications/settings/"
    assert api(client, study_admin, "get", path).json() == {
        "reminders_enabled": True,
        "reminder_stall_days": 3,
        "admin_notices_enabled": True,
    }
    response = api(client, study_admin, "patch", path, {"admin_notices_enabled": False})
    assert response.json()["admin_notices_enabled"] is False
    response = api(client, study_admin, "patch", path, {"reminder_stall_days": 61})
    assert response.status_code == 400
    assert "reminder_stall_days" in response.json()
    reminded.refresh_from_db()
    assert (reminded.admin_notices_enabled, reminded.reminder_stall_days) == (False, 3)
    assert Notification.objects.filter(study=reminded).count() == 3
