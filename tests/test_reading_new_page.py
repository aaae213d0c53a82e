"""The new assisted-reading study page: its fields, the washout's error tied to its field, and
each field marked with the layout or answer kind it belongs to (the server checks them all)."""

import re

import pytest
from django.urls import reverse

from annotation.models import Study
from tests.test_reading_setup import _crossover

pytestmark = pytest.mark.django_db


def _wrapper(page: str, name: str) -> str:
    match = re.search(rf'<div data-field="{name}"[^>]*>', page)
    assert match, name
    return match.group(0)


def test_the_page_marks_which_fields_belong_to_which_layout_and_answer(client, study_admin):
    client.force_login(study_admin)
    page = client.get(reverse("reading_study_new")).text
    assert 'data-shown-when="layout=crossover"' in _wrapper(page, "washout_days")
    assert 'data-shown-when="answer_kind=ranked"' in _wrapper(page, "k")
    assert 'data-shown-when="answer_kind=choice"' in _wrapper(page, "choices")
    for always in ("title", "layout", "answer_kind", "prompt"):
        assert "data-shown-when" not in _wrapper(page, always)
    assert '<label for="id_k">Most entries (ranked list):</label>' in page
    assert ">K:<" not in page
    # Radios: a phone cannot cut an option's text short as it does a select's.
    assert 'type="radio" name="layout" value="crossover"' in page
    assert 'type="radio" name="answer_kind" value="choice"' in page
    assert "js/reading-new.js" in page


def test_a_bad_washout_is_the_fields_own_error_described_by_it(client, study_admin):
    client.force_login(study_admin)
    refused = client.post(reverse("reading_study_new"), _crossover(washout_days="-3"))
    assert refused.status_code == 400
    page = refused.text
    error = re.search(r'<ul class="errorlist" id="id_washout_days_error">(.*?)</ul>', page, re.S)
    assert error
    assert "The washout is a whole number of days, 0 or more." in error.group(1)
    field = re.search(r'<input type="number" name="washout_days"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in field
    assert re.search(r'aria-describedby="[^"]*\bid_washout_days_error\b', field)
    assert not Study.objects.exists()


def test_without_the_script_a_sequential_study_with_fields_left_blank_is_created(
    client, study_admin
):
    """The fields the script would hide are all sent blank: the server takes them as unset."""
    client.force_login(study_admin)
    body = {
        "title": "Seq",
        "layout": "sequential",
        "answer_kind": "text",
        "prompt": "Dx",
        "k": "",
        "washout_days": "",
        "choices": "",
    }
    response = client.post(reverse("reading_study_new"), body)
    assert response.status_code == 302
    study = Study.objects.get(title="Seq")
    assert (study.reading_layout, study.washout_days) == ("sequential", 0)
    assert study.questions.get().k is None
