"""REST exports: token auth, long-format ratings as JSON and CSV, the unblinding key for admins."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished
from django.db import close_old_connections
from django.urls import reverse
from rest_framework.authtoken.models import Token

from annotation import services
from annotation.api.serializers import STUDY_RATER_FIELDS
from annotation.models import Question
from tests.conftest import STUDY_ROWS
from tests.test_blinding import body_text
from tests.test_study_statistics import add_judge

pytestmark = pytest.mark.django_db


def auth(user) -> dict:
    return {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}


@pytest.fixture
def rated_study(open_study, raters):
    question = open_study.questions.get()
    for value, assignment in enumerate(open_study.assignments.filter(rater=raters[0])[:2], start=2):
        services.rating_save(assignment=assignment, question=question, answer=value)
        services.rating_save(assignment=assignment, question=question, answer=value + 1)
    return open_study


@pytest.mark.parametrize("name", ["api-rating-list", "api-unblinding-list"])
def test_calls_without_a_token_are_refused(client, open_study, name):
    response = client.get(reverse(name, args=[open_study.token]))
    assert response.status_code == 401
    assert client.get(reverse("api-study-list")).status_code == 401


def test_a_session_login_reads_the_api_but_writes_only_with_the_csrf_token(study_admin, open_study):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(study_admin)
    assert client.get(reverse("api-rating-list", args=[open_study.token])).status_code == 200
    recompute = reverse("api-study-recompute", args=[open_study.token])
    response = client.post(recompute)
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_a_wrong_token_is_refused(client, open_study):
    headers = {"Authorization": "Token not-a-real-token"}
    assert client.get(reverse("api-study-list"), headers=headers).status_code == 401


def test_ratings_in_long_format(client, study_admin, rated_study):
    response = client.get(
        reverse("api-rating-list", args=[rated_study.token]), headers=auth(study_admin)
    )
    assert response.status_code == 200
    rows = response.json()["results"]
    rows_seen = sorted(
        (r["rater"], r["question"], r["answer"], r["value"], r["revisions"]) for r in rows
    )
    assert rows_seen == [("R1", "overall", 3, 3.0, 2), ("R1", "overall", 4, 4.0, 2)]
    tokens = set(rated_study.items.values_list("token", flat=True))
    assert {r["item_token"] for r in rows} <= tokens
    assert set(rows[0]) == {
        "item_token",
        "rater",
        "question",
        "answer",
        "value",
        "flipped",
        "shown_order",
        "output_slot",
        "kind",
        "first_saved_at",
        "last_saved_at",
        "revisions",
        "submitted",
        "time_on_task_seconds",
        "session",
        "reference_answer",
        "reference_value",
    }
    # No adjudicated reference: null on every row.
    assert {(r["reference_answer"], r["reference_value"]) for r in rows} == {(None, None)}
    # Recorded by the rater's browser when it is; none here, as the fixture's ratings were not.
    assert {r["time_on_task_seconds"] for r in rows} == {None}


def test_ratings_give_the_time_on_task_the_browser_recorded(client, study_admin, rated_study):
    timed = rated_study.assignments.order_by("pk").first()
    timed.time_on_task_ms = 41_250
    timed.save(update_fields=["time_on_task_ms"])
    response = client.get(
        reverse("api-rating-list", args=[rated_study.token]), headers=auth(study_admin)
    )
    times = {r["item_token"]: r["time_on_task_seconds"] for r in response.json()["results"]}
    assert times[timed.item.token] == 41.25


def test_ratings_as_csv(client, study_admin, rated_study):
    url = reverse("api-rating-list", args=[rated_study.token]) + "?format=csv"
    response = client.get(url, headers=auth(study_admin))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body_text(response))))
    assert sorted((r["answer"], r["value"]) for r in rows) == [("3", "3.0"), ("4", "4.0")]
    assert rows[0]["rater"] == "R1"


def test_unblinding_key_maps_every_item_to_its_source(client, study_admin, open_study):
    url = reverse("api-unblinding-list", args=[open_study.token])
    rows = client.get(url, headers=auth(study_admin)).json()["results"]
    assert len(rows) == 6
    expected = {
        (i.token, i.output.source.label) for i in open_study.items.select_related("output__source")
    }
    assert {(r["item_token"], r["source"]) for r in rows} == expected


@pytest.mark.parametrize("name", ["api-rating-list", "api-unblinding-list"])
def test_raters_cannot_export(client, raters, open_study, name):
    response = client.get(reverse(name, args=[open_study.token]), headers=auth(raters[0]))
    assert response.status_code == 403


@pytest.mark.parametrize("name", ["api-rating-list", "api-unblinding-list"])
def test_outsiders_cannot_tell_the_study_exists(client, outsider, open_study, name):
    response = client.get(reverse(name, args=[open_study.token]), headers=auth(outsider))
    assert response.status_code == 404


def test_study_list_shows_only_the_callers_studies_and_role(client, raters, outsider, open_study):
    rows = client.get(reverse("api-study-list"), headers=auth(raters[0])).json()["results"]
    assert [(r["token"], r["title"], r["status"], r["role"]) for r in rows] == [
        (open_study.token, open_study.title, "open", "rater")
    ]
    assert rows[0]["seed"] is None
    assert rows[0]["repeats_per_rater"] is None
    shown = {k for k, v in rows[0].items() if v is not None}
    assert shown <= set(STUDY_RATER_FIELDS)
    assert client.get(reverse("api-study-list"), headers=auth(outsider)).json()["results"] == []


def test_csv_cells_cannot_run_as_spreadsheet_formulas():
    from annotation.core.tables import to_csv

    text = to_csv([{"a": '=HYPERLINK("x")', "b": 3}], ["a", "b"])
    assert text.splitlines()[1] == '"\'=HYPERLINK(""x"")",3'


def test_the_rating_history_shows_every_change_for_admins_only(
    client, study_admin, rated_study, raters
):
    url = reverse("api-rating-history-list", args=[rated_study.token])
    rows = client.get(url, headers=auth(study_admin)).json()["results"]
    changes = sorted(
        (r["rater"], r["question"], str(r["old_answer"]), r["new_answer"]) for r in rows
    )
    assert changes == [
        ("R1", "overall", "", 2),
        ("R1", "overall", "", 3),
        ("R1", "overall", "2", 3),
        ("R1", "overall", "3", 4),
    ]
    assert all(r["saved_at"] for r in rows)
    assert client.get(url, headers=auth(raters[0])).status_code == 403
    csv_rows = list(
        csv.DictReader(
            io.StringIO(body_text(client.get(url + "?format=csv", headers=auth(study_admin))))
        )
    )
    assert len(csv_rows) == 4


@pytest.mark.parametrize(
    "name", ["api-rating-history-list", "api-unblinding-list", "api-judge-rating-list"]
)
def test_a_table_read_a_row_a_page_is_the_whole_table_in_order(
    client, study_admin, rated_study, name
):
    # Each page is read from the database on its own: a change's old answer, on the page
    # before its own, must still be there.
    if name == "api-judge-rating-list":
        _judge_everything(rated_study)
    url = reverse(name, args=[rated_study.token])
    whole = client.get(url, headers=auth(study_admin)).json()
    assert whole["count"] >= 4
    paged, address = [], f"{url}?page_size=1"
    while address:
        page = client.get(address, headers=auth(study_admin)).json()
        assert len(page["results"]) == 1
        paged += page["results"]
        address = page["next"]
    assert paged == whole["results"]
    assert len(paged) == whole["count"]
    as_csv = body_text(client.get(url + "?format=csv", headers=auth(study_admin)))
    assert len(list(csv.DictReader(io.StringIO(as_csv)))) == whole["count"]


def _judge_everything(study) -> None:
    answers = {}
    for n, item in enumerate(study.items.select_related("output__case", "output__source")):
        answers[(item.output.case.external_id, item.output.source.label)] = n % 5 + 1
    add_judge(study, "judge", answers)


def close_response(response) -> None:
    """Close a response's file (a download) without the end-of-request signal, which would close
    the database connection the test's transaction is in: as Django's test client does."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def _json(client, method: str, url: str, user, body: dict | None = None):
    call = getattr(client, method)
    if body is None:
        return call(url, headers=auth(user))
    return call(url, json.dumps(body), content_type="application/json", headers=auth(user))


def test_a_study_is_built_over_the_api_and_a_bad_file_writes_nothing(client, study_admin):
    created = _json(
        client, "post", "/api/v1/studies/", study_admin, {"title": "API", "question_prompt": "Q?"}
    )
    assert created.status_code == 201
    token = created.json()["token"]
    assert (created.json()["role"], created.json()["status"]) == ("admin", "draft")
    url = f"/api/v1/studies/{token}/questions/"
    harm = {"key": "harm", "prompt": "Harmful?", "kind": "yes_no", "level": "nominal"}
    assert _json(client, "post", url, study_admin, harm).status_code == 201
    assert [q["key"] for q in _json(client, "get", url, study_admin).json()["results"]] == [
        "overall",
        "harm",
    ]
    bad = b"case_id,input,source,output\nc1,Question,A,Answer\nc2,,A,Answer\n"
    upload = SimpleUploadedFile("cases.csv", bad)
    refused = client.post(
        f"/api/v1/studies/{token}/import/", {"file": upload}, headers=auth(study_admin)
    )
    assert refused.status_code == 400
    [problem] = refused.json()["problems"]
    assert (problem["file"], problem["row"], problem["field"]) == ("cases.csv", 3, "input")
    assert _json(client, "get", f"/api/v1/studies/{token}/cases/", study_admin).json()["count"] == 0
    good = SimpleUploadedFile("cases.csv", STUDY_ROWS)
    summary = client.post(
        f"/api/v1/studies/{token}/import/", {"file": good}, headers=auth(study_admin)
    ).json()
    assert summary["cases_created"] == 3
    outputs = _json(client, "get", f"/api/v1/studies/{token}/outputs/?case_id=c1", study_admin)
    assert {o["case_id"] for o in outputs.json()["results"]} == {"c1"}


def test_analysis_settings_change_over_the_api(client, study_admin, open_study):
    url = f"/api/v1/studies/{open_study.token}/"
    changed = _json(client, "patch", url, study_admin, {"p_adjustment": "bonferroni"})
    assert (changed.json()["p_adjustment"], changed.json()["judge_epsilon"]) == ("bonferroni", 0.2)
    assert _json(client, "patch", url, study_admin, {"judge_epsilon": 2}).status_code == 400


def test_ratings_are_paged_filtered_and_whole_as_csv(client, study_admin, open_study, raters):
    question = open_study.questions.get()
    for rater in raters[:2]:
        for assignment in open_study.assignments.filter(rater=rater):
            services.rating_save(assignment=assignment, question=question, answer=3)
    base = f"/api/v1/studies/{open_study.token}/ratings/"
    first = _json(client, "get", base + "?page_size=2", study_admin).json()
    assert (first["count"], len(first["results"])) == (8, 2)
    second = _json(client, "get", first["next"], study_admin).json()["results"]
    assert second != first["results"]
    r1 = _json(client, "get", base + "?rater=R1", study_admin).json()
    assert r1["count"] == 4
    assert {r["rater"] for r in r1["results"]} == {"R1"}
    assert all(r["output_slot"] is None for r in r1["results"])
    csv_rows = list(
        csv.DictReader(
            io.StringIO(
                body_text(client.get(base + "?rater=R2&format=csv", headers=auth(study_admin)))
            )
        )
    )
    assert len(csv_rows) == 4
    assert {r["rater"] for r in csv_rows} == {"R2"}


def test_results_carry_their_interval_and_the_bundle_downloads(client, study_admin, api_world):
    study = api_world["study"]
    [result] = _json(client, "get", f"/api/v1/studies/{study.token}/results/", study_admin).json()[
        "results"
    ]
    assert (result["statistic"], result["value"], result["ci_low"], result["ci_high"]) == (
        "alpha",
        0.5,
        0.1,
        0.9,
    )
    bundle = client.get(f"/api/v1/studies/{study.token}/bundle/", headers=auth(study_admin))
    assert bundle["Content-Type"] == "application/zip"
    assert b"".join(bundle.streaming_content).startswith(b"PK")
    close_response(bundle)


def test_a_raters_api_answers_reach_the_admins_ratings(client, study_admin, open_study, raters):
    rater = raters[0]
    base = f"/api/v1/rate/{open_study.token}/items/"
    [first, *_] = _json(client, "get", base, rater).json()["results"]
    saved = _json(
        client,
        "post",
        f"{base}{first['token']}/answers/",
        rater,
        {"question": "overall", "answer": 4},
    )
    assert saved.json()["questions"][0]["answer"] == 4
    bad = _json(
        client,
        "post",
        f"{base}{first['token']}/answers/",
        rater,
        {"question": "overall", "answer": 9},
    )
    assert bad.status_code == 400
    assert _json(client, "post", f"{base}{first['token']}/submit/", rater).json()["submitted"]
    rows = _json(client, "get", f"/api/v1/studies/{open_study.token}/ratings/", study_admin).json()
    assert [(r["rater"], r["answer"], r["submitted"]) for r in rows["results"]] == [("R1", 4, True)]
    # Another rater's item is not there for this one.
    other = open_study.assignments.exclude(rater=rater).first()
    assert _json(client, "get", f"{base}{other.token}/", rater).status_code == 404


def test_a_nul_character_is_refused_not_a_server_error(client, study_admin, open_study, raters):
    url = "/api/v1/reports/x%00y/export/json/?of=%00"
    refused = client.get(url, headers=auth(study_admin))
    assert refused.status_code == 400
    assert "NUL" in refused.json()["detail"]
    # (The rubric is fixed once a study opens; the test adds a free-text question directly.)
    text = Question(study=open_study, key="note", prompt="Anything?", kind="text", level="")
    text.save()
    item = open_study.assignments.filter(rater=raters[0], kind="study").first()
    body = {"question": "note", "answer": "fine\x00"}
    answered = _json(
        client,
        "post",
        f"/api/v1/rate/{open_study.token}/items/{item.token}/answers/",
        raters[0],
        body,
    )
    assert answered.status_code == 400
    assert "NUL" in answered.json()["detail"]


def test_odd_bodies_and_queries_are_refused_with_a_reason(client, study_admin, open_study):
    url = f"/api/v1/studies/{open_study.token}/"
    for body, word in [
        ({"title": "New"}, "title"),
        ({}, "Nothing"),
        ({"p_adjustment": "holm\x00"}, "NUL"),
    ]:
        refused = _json(client, "patch", url, study_admin, body)
        assert refused.status_code == 400
        assert word in str(refused.json())
    deep = "[" * 100_000 + "]" * 100_000
    refused = client.post(
        "/api/v1/reports/", deep, content_type="application/json", headers=auth(study_admin)
    )
    assert refused.status_code == 400
    assert "nested" in refused.json()["detail"]
    outputs = f"/api/v1/studies/{open_study.token}/outputs/?sample=1e1000000"
    assert _json(client, "get", outputs, study_admin).status_code == 400
    assert _json(client, "get", "/api/v1/checklists/x/?revision=²", study_admin).status_code == 400


def test_what_a_study_cannot_take_is_refused_not_dropped(client, study_admin):
    body = {"title": "P", "question_prompt": "Which?", "design": "pairwise", "scale": []}
    refused = _json(client, "post", "/api/v1/studies/", study_admin, body)
    assert refused.status_code == 400
    assert "scale" in refused.json()
    null_scale = _json(client, "post", "/api/v1/studies/", study_admin, {**body, "scale": None})
    assert null_scale.status_code == 400  # named at all is refused, whatever its value
    del body["scale"]
    token = _json(client, "post", "/api/v1/studies/", study_admin, body).json()["token"]
    nul = SimpleUploadedFile("cases.csv", b"case_id,input,source,output\nc1,Q\x00,A,Answer\n")
    refused = client.post(
        f"/api/v1/studies/{token}/import/", {"file": nul}, headers=auth(study_admin)
    )
    assert refused.status_code == 400
    [problem] = refused.json()["problems"]
    assert (problem["row"], problem["field"]) == (2, "input")
    assert "NUL" in problem["message"]
