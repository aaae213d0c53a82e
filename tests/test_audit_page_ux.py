"""The audit log's pages as a study admin and a staff member read them (a user's walk, issue
tracker "audit UX"): a change late in a long text shows, an applied filter shows what it is and
can be cleared, a failed sign-in says how it was tried and its name is not an account, the
numbers' gaps and the staff page's scope are explained, old and new are told apart without
sight, and the pager is above the entries as well as below."""

import csv
import io
import re

import pytest
from django.urls import reverse

from annotation import services
from annotation.core import audit
from annotation.models import AuditEvent
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SHARED = "Ihre Daten werden gemäß DSGVO verarbeitet. " * 10  # 430 characters, the same in both
OLD_TAIL = "Widerruf jederzeit per Brief."
NEW_TAIL = "Widerruf jederzeit per E-Mail an datenschutz@example.org."
TRIED = "dr.mueller-luedenscheidt@klinikum-example.de"


@pytest.fixture
def staff(client):
    user = UserFactory(username="auditor", is_staff=True)
    client.force_login(user)
    return user


def _page(client, url: str, **query) -> str:
    response = client.get(url, query)
    assert response.status_code == 200
    return response.content.decode()


def _visible(html: str) -> str:
    """The page's text without the disclosures (<details>) that hold whole values."""
    return re.sub(r"<details\b.*?</details>", "", html, flags=re.S)


# M2: a change after the 300th character.


def test_a_change_after_the_first_300_characters_shows_without_opening_anything(
    client, open_study, study_admin
):
    services.audit_record(
        action="consent.changed",
        study=open_study,
        details={"consent_text": {"old": SHARED + OLD_TAIL, "new": SHARED + NEW_TAIL}},
    )
    client.force_login(study_admin)
    html = _page(client, reverse("study_audit", args=[open_study.token]))
    shown = _visible(html)
    assert OLD_TAIL in shown
    assert NEW_TAIL in shown
    # Both whole, on demand, with no script.
    disclosure = re.search(r'<details class="audit-full".*?</details>', html, flags=re.S).group(0)
    assert (SHARED + OLD_TAIL) in disclosure
    assert (SHARED + NEW_TAIL) in disclosure


def test_the_shown_part_starts_a_little_before_the_first_difference():
    old, new = "a" * 1000 + "OLD" + "z" * 500, "a" * 1000 + "NEW" + "z" * 500
    old_shown, new_shown = audit.shown_change(old, new)
    assert old_shown.startswith("…")
    assert old_shown.endswith("…")
    assert len(old_shown) == len(new_shown) == audit.SHOWN_CHARS
    assert "OLD" in old_shown
    assert "NEW" in new_shown
    assert old_shown.index("OLD") == 1 + audit.SHOWN_BEFORE_CHANGE
    # Short values are shown as they are; a long one from its start.
    assert audit.shown_change("holm", "bonferroni") == ("holm", "bonferroni")
    assert audit.shown_change("x" * 400, "y" * 400)[0] == "x" * 299 + "…"
    assert audit.shown_value("v" * 301) == "v" * 299 + "…"


# L10: old and new told apart by a screen reader.


def test_old_and_new_values_say_was_and_now_to_a_screen_reader(client, open_study, study_admin):
    services.study_analysis_update(study=open_study, p_adjustment="bonferroni", judge_epsilon=0.2)
    client.force_login(study_admin)
    html = _page(client, reverse("study_audit", args=[open_study.token]), action="settings.changed")
    assert re.search(
        r'<span class="visually-hidden">was: </span><del title="old value">holm</del>'
        r' <span aria-hidden="true">→</span> '
        r'<span class="visually-hidden">now: </span><ins title="new value">bonferroni</ins>',
        html,
    )


# L1: a filter value the list does not hold, and clearing the filters.


def test_a_filter_for_an_action_that_never_occurred_shows_that_action(
    client, open_study, study_admin
):
    client.force_login(study_admin)
    url = reverse("study_audit", args=[open_study.token])
    html = _page(client, url, action="study.locked", user="nobody-here")
    assert "No entries match these filters" in html
    assert '<option value="study.locked" selected>study.locked</option>' in html
    assert '<option value="nobody-here" selected>nobody-here</option>' in html
    assert re.search(r'<option value="">any</option>\s*<option value="study.locked" selected', html)
    assert f'<a href="{url}" data-testid="audit-clear-filters">Clear filters</a>' in html
    # Without a filter there is nothing to clear.
    assert "audit-clear-filters" not in _page(client, url)


# L3 and L4: failed sign-ins.


def test_a_wrong_password_records_the_method(client):
    UserFactory(username="alice")
    response = client.post(reverse("login"), {"username": "alice", "password": "not-" + PASSWORD})
    assert response.status_code == 200  # the form again, with its error
    [failed] = AuditEvent.objects.filter(action="account.sign_in_failed")
    assert failed.actor_username == "alice"
    assert failed.details == {"method": "password"}


def test_a_name_typed_at_a_failed_sign_in_is_not_shown_as_an_account(client):
    client.post(reverse("login"), {"username": TRIED, "password": "wrong"})
    alice = UserFactory(username="alice")
    client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    services.audit_record(action="test.acted", user=alice)
    client.force_login(UserFactory(username="auditor", is_staff=True))
    html = _page(client, reverse("audit_log"))
    who = re.findall(r'<td class="audit-who" data-testid="audit-who">(.*?)</td>', html, re.S)
    assert any(f'<span class="muted">tried:</span> {TRIED}' in cell for cell in who)
    assert any(cell.startswith("alice ") for cell in who)  # the real account's own entry
    options = re.search(r'<select name="user">(.*?)</select>', html, re.S).group(1)
    listed = re.findall(r'<option value="([^"]*)"', options)
    assert TRIED not in listed
    assert "alice" in listed  # a real account, though a wrong password was typed for it too
    # Still found by a typed filter, and still in the exports.
    filtered = _page(client, reverse("audit_log"), user=TRIED)
    assert filtered.count('data-testid="audit-row"') == 1
    assert f'<option value="{TRIED}" selected>' in filtered
    response = client.get(reverse("audit_log_export", args=["csv"]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert TRIED in {row["actor_username"] for row in rows}


# L6 and L7: what the intro says.


def test_the_study_page_says_the_numbers_are_site_wide(client, open_study, study_admin):
    client.force_login(study_admin)
    html = _page(client, reverse("study_audit", args=[open_study.token]))
    note = re.search(r'data-testid="audit-seq-note">(.*?)</p>', html, re.S).group(1)
    assert "site-wide" in note
    assert "other studies' entries" in note


def test_the_staff_page_says_it_holds_sign_ins_accounts_and_tokens(client, staff):
    html = _page(client, reverse("audit_log"))
    intro = re.search(r'data-testid="audit-intro">(.*?)</p>', html, re.S).group(1)
    for words in ("sign-ins", "failed sign-ins", "accounts", "roles", "groups", "API tokens"):
        assert words in intro
    assert not intro.startswith("Every change to a study")


# M3: the pager above the entries too.


def test_the_pager_is_above_and_below_the_entries(client, staff):
    for number in range(55):
        services.audit_record(action="test.many", details={"n": number})
    html = _page(client, reverse("audit_log"))
    top, table, bottom = (
        html.index('data-testid="audit-pager-top"'),
        html.index('data-testid="audit-table"'),
        html.index('data-testid="audit-pager-bottom"'),
    )
    assert top < table < bottom
    assert html.count("Older →") == 2


# L8: the dashboard's link.


def test_the_dashboard_links_the_audit_log_beside_the_title(client, open_study, study_admin):
    client.force_login(study_admin)
    html = _page(client, reverse("study_dashboard", args=[open_study.token]))
    head = re.search(r'<div class="dash-head">(.*?)</div>', html, re.S).group(1)
    assert 'data-testid="audit-link"' in head
    assert 'class="button' in re.search(r'<a [^>]*data-testid="audit-link"', head).group(0)
    assert html.count('data-testid="audit-link"') == 1
    # Not the same words as the top bar's "Audit log" (staff), which is the whole site's.
    assert 'data-testid="audit-link">Study audit log</a>' in head
