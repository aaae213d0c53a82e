"""The reader's page of a ranked answer: a locked read's move buttons are disabled, the keys
line gives the keys the ranked rows take, and without script the lock needs a ticked box."""

import re

import pytest
from django.urls import reverse

from annotation import services
from annotation.models import Assignment
from tests.reading_support import reading_study


@pytest.fixture
def opened(study_admin, raters):
    study = reading_study(study_admin, raters[:1])
    services.study_open(study=study)
    return study


def _page(client, study, read) -> str:
    return client.get(reverse("rater_item", args=[study.token, read.token])).text


def _lock(study, read) -> None:
    question = study.questions.get(key="answer")
    services.rating_save(assignment=read, question=question, answer=["PE", "MI"])
    services.assignment_submit(assignment=read)


def _move_buttons(page: str) -> list[str]:
    return re.findall(r"<button[^>]*data-move[^>]*>", page)


def _keys_line(page: str) -> str:
    return re.search(r'<span class="muted keys key-hints">(.*?)</span>', page, re.S).group(1)


@pytest.mark.django_db
def test_a_locked_reads_move_buttons_are_all_disabled(client, opened, raters):
    first = Assignment.objects.filter(study=opened, rater=raters[0]).order_by("position")[0]
    client.force_login(raters[0])
    open_buttons = _move_buttons(_page(client, opened, first))
    # Editable: only the first row's "up" and the last row's "down" are disabled.
    assert len(open_buttons) == 6
    assert [" disabled" in button for button in open_buttons] == [
        True, False, False, False, False, True
    ]  # fmt: skip
    _lock(opened, first)
    locked = _page(client, opened, first)
    buttons = _move_buttons(locked)
    assert len(buttons) == 6
    assert all(" disabled" in button for button in buttons)
    assert all('tabindex="-1"' in button for button in buttons)
    assert "Alt+↑ and Alt+↓ move an entry" not in locked


@pytest.mark.django_db
def test_the_keys_line_of_a_ranked_answer_gives_the_rows_keys(client, opened, raters):
    first, second = Assignment.objects.filter(study=opened, rater=raters[0]).order_by("position")[
        :2
    ]
    client.force_login(raters[0])
    page = _page(client, opened, first)
    keys = _keys_line(page)
    assert "answer the highlighted question" not in keys  # digits do nothing in a ranked list
    assert "<kbd>Alt</kbd>+<kbd>↑</kbd> <kbd>Alt</kbd>+<kbd>↓</kbd> move an entry" in keys
    assert "<kbd>Esc</kbd> then <kbd>Enter</kbd> lock the answer" in keys
    assert "Answer the highlighted question" not in page  # nor in the keys' help
    assert "Move the entry being typed up or down the list" in page
    _lock(opened, first)
    assisted = _keys_line(_page(client, opened, second))
    assert "<kbd>Esc</kbd> then <kbd>Enter</kbd> submit" in assisted
    locked = _keys_line(_page(client, opened, first))
    assert "move an entry" not in locked  # nothing to move or lock: the items' keys only
    assert "Enter" not in locked
    assert "<kbd>←</kbd> <kbd>→</kbd> items" in locked


@pytest.mark.django_db
def test_without_script_the_lock_needs_its_box_ticked(client, opened, raters):
    first, second = Assignment.objects.filter(study=opened, rater=raters[0]).order_by("position")[
        :2
    ]
    client.force_login(raters[0])
    box = '<input type="checkbox" name="confirm_lock" value="yes" required>'
    page = _page(client, opened, first)
    assert re.search(r"<noscript>.*" + re.escape(box) + r".*</noscript>", page)
    # Only where submitting locks: the assisted read is submitted, not locked.
    _lock(opened, first)
    assert box not in _page(client, opened, first)
    assert box not in _page(client, opened, second)
