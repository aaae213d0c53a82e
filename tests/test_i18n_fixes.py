"""Review fixes to the German and Spanish pages: numbers in form attributes stay readable by the
browser ("12.0", never "12,0")."""

import pytest
from django.urls import reverse

from annotation import services
from annotation.core import consent
from annotation.models import Membership
from tests.conftest import study_drafted

pytestmark = pytest.mark.django_db


@pytest.fixture
def hours_study(study_admin, raters):
    """An open study asking, after the last item, an optional number with decimal limits."""
    study = study_drafted(study_admin, raters)
    services.rater_question_add(
        study=study,
        draft=consent.RaterQuestionDraft(
            key="hours",
            prompt="Hours per week?",
            kind="number",
            phase=consent.POST_STUDY,
            required=False,
            minimum=0.5,
            maximum=80.5,
        ),
    )
    services.study_open(study=study)
    study.refresh_from_db()
    return study


@pytest.mark.parametrize("language", ["de", "es"])
def test_a_stored_number_is_shown_unlocalized_in_the_after_study_form(
    rater_client, rater, hours_study, language
):
    Membership.objects.filter(study=hours_study, user=rater).update(post_study={"hours": 12.5})
    page = rater_client.get(
        reverse("rater_post_study", args=[hours_study.token]), HTTP_ACCEPT_LANGUAGE=language
    )
    assert page.status_code == 200
    assert f'<html lang="{language}"' in page.text
    field = next(line for line in page.text.splitlines() if 'id="rq-hours"' in line)
    assert 'value="12.5"' in field
    assert 'min="0.5"' in field
    assert 'max="80.5"' in field
    assert "," not in field.split('name="hours"')[1]
