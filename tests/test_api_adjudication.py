"""The adjudication API: admins choose items, add adjudicators and read the references; an
adjudicator reads their queue and items (blinded as the page is) and records a reference;
everyone else is refused."""

import json

import pytest
from rest_framework.authtoken.models import Token

from annotation.models import Adjudication
from tests.adjudication_support import rated_study
from tests.factories import UserFactory
from tests.support.words import mentions

pytestmark = pytest.mark.django_db


def api(client, user, method: str, url: str, body: dict | None = None):
    headers = {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}
    if body is None:
        return getattr(client, method)(url, headers=headers)
    return getattr(client, method)(
        url, json.dumps(body), content_type="application/json", headers=headers
    )


@pytest.fixture
def study(study_admin, raters):
    return rated_study(study_admin, raters)


def test_the_whole_flow_through_the_api(client, study, study_admin, raters, outsider):
    base = f"/api/v1/studies/{study.token}"
    rule = {"kind": "any_value", "question": "harm", "values": ["severe"]}
    chosen = api(
        client,
        study_admin,
        "post",
        f"{base}/adjudication-selections/",
        {"mode": "rule", "rule": rule},
    )
    assert chosen.status_code == 201
    assert chosen.json() == {
        "mode": "rule",
        "described": "a rater answered 'harm' with \"severe\"",
        "eligible": 6,
        "chosen": 1,
    }
    senior = UserFactory(username="senior")
    added = api(client, study_admin, "post", f"{base}/adjudicators/", {"username": "senior"})
    assert (added.status_code, added.json()) == (201, {"username": "senior", "label": "A1"})

    items = f"/api/v1/adjudicate/{study.token}/items/"
    queue = api(client, senior, "get", items).json()
    assert queue == [Adjudication.objects.get().token]
    item = api(client, senior, "get", f"{items}{queue[0]}/").json()
    assert [reader["label"] for reader in item["readers"]] == ["Reader 1", "Reader 2"]
    text = json.dumps(item)
    for hidden in ("R1", "R2", "rater1", "rater2", "rater3", "MedSumm", "Expert-written"):
        assert not mentions(text, hidden), hidden

    bad = api(
        client,
        senior,
        "post",
        f"{items}{queue[0]}/reference/",
        {"answers": {"overall": 3, "harm": "mild"}, "reason": ""},
    )
    assert bad.status_code == 400
    assert "reason" in bad.json()
    done = api(
        client,
        senior,
        "post",
        f"{items}{queue[0]}/reference/",
        {"answers": {"overall": 3, "harm": "mild"}, "reason": "Mild at most."},
    )
    assert done.status_code == 200
    assert done.json()["decided"] is True

    rows = api(client, study_admin, "get", f"{base}/adjudications/").json()
    by_question = {row["question"]: row for row in rows}
    assert by_question["harm"]["reference_answer"] == "mild"
    assert by_question["harm"]["majority"] is None
    assert by_question["harm"]["sided_with_majority"] is None
    assert by_question["overall"]["majority"] == 3
    assert by_question["overall"]["sided_with_majority"] is True
    assert by_question["overall"]["adjudicator"] == "A1"

    # Raters get 403 on admin endpoints, outsiders 404; a non-adjudicator finds no queue.
    assert api(client, raters[0], "get", f"{base}/adjudications/").status_code == 403
    assert api(client, outsider, "get", f"{base}/adjudicators/").status_code == 404
    assert api(client, outsider, "get", items).status_code == 404
    assert api(client, study_admin, "get", f"{items}{queue[0]}/").status_code == 404


def test_a_bad_selection_is_a_400_naming_the_field(client, study, study_admin):
    url = f"/api/v1/studies/{study.token}/adjudication-selections/"
    response = api(client, study_admin, "post", url, {"mode": "sample", "sample_fraction": 2})
    assert response.status_code == 400
    assert "sample_fraction" in json.dumps(response.json())
    assert not Adjudication.objects.exists()
