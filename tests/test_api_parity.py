"""Everything the dashboard does, the API does (issue 21): each action on the raters card, the
invitations, the comments and the rubric templates, called through the API, leaves the study
as the same action on the page does; admins only, with the page's refusals as JSON."""

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse
from rest_framework.authtoken.models import Token

from annotation import selectors, services
from annotation.core.stats.estimate import THESE_RATERS
from annotation.core.stats.mrmc import RANDOM_BOTH, mrmc
from annotation.models import Assignment, Invitation, Question, Study
from tests.conftest import STUDY_ROWS
from tests.factories import UserFactory
from tests.test_api_client import generated  # noqa: F401 (a fixture: the client, made once)
from tests.test_bundle import rated  # noqa: F401 (a fixture: a study with statistics)
from tests.test_dashboard_planning import (
    plan_rows,
    post_power,
    store_alpha,
    store_mrmc,
)
from tests.test_quality_control import _study as quality_control_study
from tests.test_stats_mrmc import vandyke_rows

pytestmark = pytest.mark.django_db

API = "/api/v1/studies/{}/"


def call(client, user, method: str, url: str, body=None):
    headers = {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}
    if body is None:
        return getattr(client, method)(url, headers=headers)
    data = json.dumps(body)
    return getattr(client, method)(url, data, content_type="application/json", headers=headers)


def twin(study: Study, admin, raters) -> Study:
    """A second study made as the fixtures make `study` (same seed), in the same state."""
    other = services.study_create(
        creator=admin,
        title=study.title,
        raters_per_item=study.raters_per_item,
        question_prompt=study.questions.get().prompt,
        seed=study.seed,
    )
    services.study_import_file(study=other, filename="study.csv", content=STUDY_ROWS)
    services.study_add_raters(study=other, users=raters)
    if study.status == Study.Status.OPEN:
        services.study_open(study=other)
    return other


def placements(study: Study) -> list[tuple]:
    """Who holds what where, by pseudonym and item content (ids differ between twins)."""
    names = dict(study.memberships.values_list("user_id", "pseudonym"))
    rows = study.assignments.select_related("item__output__case", "item__output__source")
    return sorted(
        (
            names[a.rater_id],
            a.position,
            a.kind,
            a.item.output.case.external_id,
            a.item.output.source.label,
        )
        for a in rows
    )


@pytest.fixture
def colleague(study_admin):
    """Someone in another of the admin's studies: a candidate for the admin's new studies."""
    earlier = services.study_create(
        creator=study_admin, title="Earlier study", raters_per_item=1, question_prompt="Q?"
    )
    person = UserFactory(username="colleague")
    services.study_add_raters(study=earlier, users=[person])
    return person


# --- raters: progress and quality control ---------------------------------------------------


def test_the_raters_list_is_the_dashboards_progress_and_quality_control(
    client, study_admin, open_study, raters
):
    question = open_study.questions.get()
    first = Assignment.objects.filter(study=open_study, rater=raters[0]).order_by("position")[0]
    services.rating_save(assignment=first, question=question, answer=4)
    services.assignment_submit(assignment=first)

    response = call(client, study_admin, "get", API.format(open_study.token) + "raters/")

    assert response.status_code == 200
    rows = response.json()
    progress = selectors.study_progress_by_rater(study=open_study)
    threshold, quality = selectors.study_data_quality(study=open_study)
    assert [r["pseudonym"] for r in rows] == ["R1", "R2", "R3"]
    assert [(r["done"], r["total"]) for r in rows] == [(p.done, p.total) for p in progress]
    assert rows[0]["done"] == 1
    assert rows[0]["username"] == "rater1"
    assert [r["median_seconds"] for r in rows] == [q.median_seconds for q in quality]
    assert {r["fast_threshold_seconds"] for r in rows} == {threshold}
    for field in ("training_total", "checks_total", "repeats_total", "straight_lining"):
        assert field in rows[0]


def test_raters_and_outsiders_cannot_list_the_raters(client, open_study, raters, outsider):
    url = API.format(open_study.token) + "raters/"
    assert call(client, raters[0], "get", url).status_code == 403
    assert call(client, outsider, "get", url).status_code == 404
    other_admin = UserFactory(username="other-admin")
    services.study_create(creator=other_admin, title="Theirs", question_prompt="Q?")
    assert call(client, other_admin, "get", url).status_code == 404


# --- adding raters --------------------------------------------------------------------------


def test_adding_a_rater_through_the_api_does_what_the_page_does(
    client, study_admin, draft_study, raters, colleague
):
    page_study = twin(draft_study, study_admin, raters)
    client.force_login(study_admin)
    client.post(reverse("study_add_raters", args=[page_study.token]), {"users": [colleague.pk]})
    client.logout()
    url = API.format(draft_study.token) + "raters/"
    assert call(client, study_admin, "get", url + "candidates/").json() == [
        {"username": "colleague"}
    ]

    response = call(client, study_admin, "post", url, {"usernames": ["colleague"]})

    assert response.status_code == 201
    assert response.json() == {"added": ["R4"]}

    def members(study):
        return sorted(study.memberships.values_list("user__username", "role", "pseudonym"))

    assert members(draft_study) == members(page_study)
    assert call(client, study_admin, "get", url + "candidates/").json() == []


def test_a_rater_added_to_an_open_study_takes_the_same_work_as_on_the_page(
    client, study_admin, open_study, raters, colleague
):
    page_study = twin(open_study, study_admin, raters)
    assert placements(page_study) == placements(open_study)
    client.force_login(study_admin)
    client.post(reverse("study_add_raters", args=[page_study.token]), {"users": [colleague.pk]})
    client.logout()

    url = API.format(open_study.token) + "raters/"
    assert call(client, study_admin, "post", url, {"usernames": ["colleague"]}).status_code == 201

    assert any(row[0] == "R4" for row in placements(open_study))
    assert placements(open_study) == placements(page_study)


def test_only_candidates_can_be_added_and_nobody_learns_who_has_an_account(
    client, study_admin, draft_study
):
    UserFactory(username="someone-elsewhere")
    url = API.format(draft_study.token) + "raters/"
    exists = call(client, study_admin, "post", url, {"usernames": ["someone-elsewhere"]})
    missing = call(client, study_admin, "post", url, {"usernames": ["nobody-at-all"]})
    assert exists.status_code == missing.status_code == 400
    assert exists.json() == missing.json()
    assert "usernames" in exists.json()
    assert "invited by e-mail" in exists.json()["usernames"][0]
    empty = call(client, study_admin, "post", url, {"usernames": []})
    assert empty.status_code == 400
    assert "usernames" in empty.json()
    assert draft_study.memberships.count() == 4  # the admin and three raters, as before


def test_raters_cannot_be_added_to_a_locked_study(client, study_admin, open_study, colleague):
    services.study_lock(study=open_study)
    url = API.format(open_study.token) + "raters/"
    response = call(client, study_admin, "post", url, {"usernames": ["colleague"]})
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "Raters can only be added while the study is a draft or open."
    )
    assert not open_study.memberships.filter(user=colleague).exists()


# --- reassigning ----------------------------------------------------------------------------


def test_reassigning_through_the_api_moves_what_the_page_moves(
    client, study_admin, open_study, raters
):
    page_study = twin(open_study, study_admin, raters)
    for study in (open_study, page_study):
        first = Assignment.objects.get(study=study, rater=raters[2], position=1)
        services.rating_save(assignment=first, question=study.questions.get(), answer=3)
    client.force_login(study_admin)
    client.post(reverse("study_reassign", args=[page_study.token, "R3"]), {"confirm": "yes"})
    client.logout()

    url = API.format(open_study.token) + "raters/R3/reassign/"
    response = call(client, study_admin, "post", url)

    assert response.status_code == 200
    assert response.json() == {"moved": 3}
    assert placements(open_study) == placements(page_study)
    assert Assignment.objects.filter(study=open_study, rater=raters[2]).count() == 1


def test_reassigning_names_a_rater_of_an_open_study(client, study_admin, open_study, raters):
    base = API.format(open_study.token) + "raters/"
    assert call(client, study_admin, "post", base + "R9/reassign/").status_code == 404
    # A rater may not hand on anyone's work, their own included.
    assert call(client, raters[0], "post", base + "R2/reassign/").status_code == 403
    services.study_lock(study=open_study)
    locked = call(client, study_admin, "post", base + "R2/reassign/")
    assert locked.status_code == 409
    assert locked.json()["detail"] == "Work can only be reassigned while the study is open."


# --- invitations ----------------------------------------------------------------------------


def test_inviting_through_the_api_sends_what_the_page_sends(
    client, study_admin, draft_study, raters
):
    page_study = twin(draft_study, study_admin, raters)
    client.force_login(study_admin)
    client.post(
        reverse("study_invite", args=[page_study.token]),
        {"emails": "a.clinician@example.org, b.clinician@example.org"},
    )
    client.logout()
    by_page = list(mail.outbox)
    mail.outbox.clear()
    url = API.format(draft_study.token) + "invitations/"

    body = {
        "emails": ["a.clinician@example.org", "b.clinician@example.org", "a.clinician@example.org"]
    }
    response = call(client, study_admin, "post", url, body)

    assert response.status_code == 201
    assert [(i["email"], i["status"]) for i in response.json()["invited"]] == [
        ("a.clinician@example.org", "pending"),
        ("b.clinician@example.org", "pending"),
    ]
    assert [(m.to, m.subject) for m in mail.outbox] == [(m.to, m.subject) for m in by_page]
    invitations = Invitation.objects.filter(study=draft_study).order_by("email")
    for message, invitation in zip(mail.outbox, invitations, strict=True):
        link = "http://testserver" + reverse("invitation", args=[invitation.token])
        assert link in message.body
    listed = call(client, study_admin, "get", url).json()
    assert sorted(row["email"] for row in listed["results"]) == [
        "a.clinician@example.org",
        "b.clinician@example.org",
    ]
    assert "token" not in json.dumps(listed)


def test_an_address_with_an_account_is_invited_like_one_without(client, study_admin, draft_study):
    UserFactory(username="has-account", email="known@example.org")
    url = API.format(draft_study.token) + "invitations/"
    known = call(client, study_admin, "post", url, {"emails": ["known@example.org"]})
    unknown = call(client, study_admin, "post", url, {"emails": ["unknown@example.org"]})
    assert known.status_code == unknown.status_code == 201
    known, unknown = known.json()["invited"], unknown.json()["invited"]
    assert [set(row) for row in known] == [set(row) for row in unknown]
    assert known[0]["status"] == unknown[0]["status"] == "pending"
    assert known[0]["joined_as"] is unknown[0]["joined_as"] is None
    assert not draft_study.memberships.filter(user__username="has-account").exists()


def test_invitations_refuse_bad_addresses_and_a_locked_study(client, study_admin, open_study):
    url = API.format(open_study.token) + "invitations/"
    bad = call(client, study_admin, "post", url, {"emails": ["not-an-address"]})
    assert bad.status_code == 400
    assert "emails" in bad.json()
    assert call(client, study_admin, "post", url, {"emails": []}).status_code == 400
    services.study_lock(study=open_study)
    locked = call(client, study_admin, "post", url, {"emails": ["a@example.org"]})
    assert locked.status_code == 409
    assert "draft or open" in locked.json()["detail"]
    assert not Invitation.objects.filter(study=open_study).exists()
    assert mail.outbox == []


# --- comments -------------------------------------------------------------------------------


@pytest.fixture
def commented(open_study, raters):
    """A text question with one rater's comment (added to the open study behind the rules'
    back: the rubric is fixed once open, but the comments list only reads it)."""
    comment = Question.objects.create(
        study=open_study,
        key="notes",
        prompt="Anything else?",
        kind="text",
        level="nominal",
        order=9,
    )
    first = Assignment.objects.filter(study=open_study, rater=raters[0]).order_by("position")[0]
    services.rating_save(assignment=first, question=comment, answer="Misses the dosage.")
    return open_study


def test_comments_are_the_pages_comments(client, study_admin, commented):
    url = API.format(commented.token) + "comments/"
    response = call(client, study_admin, "get", url)
    assert response.status_code == 200
    [notes] = response.json()
    assert (notes["key"], notes["total"]) == ("notes", 1)
    [comment] = notes["comments"]
    expected = selectors.study_comments(study=commented)[0].comments[0]
    assert (comment["rater"], comment["text"], comment["case_id"]) == (
        expected.rater,
        "Misses the dosage.",
        expected.case_id,
    )
    assert comment["sources"] == []  # blinded while open
    client.force_login(study_admin)
    page = client.get(reverse("study_comments", args=[commented.token])).text
    assert "Misses the dosage." in page


def test_comments_by_source_wait_for_the_lock(client, study_admin, commented, raters):
    url = API.format(commented.token) + "comments/"
    early = call(client, study_admin, "get", url + "?source=Model A")
    assert early.status_code == 403
    assert "once the study is locked" in early.json()["detail"]
    assert call(client, raters[0], "get", url).status_code == 403
    services.study_lock(study=commented)
    label = commented.sources.order_by("label").first().label
    by_source = call(client, study_admin, "get", url + f"?source={label}&all=true")
    assert by_source.status_code == 200
    unknown = call(client, study_admin, "get", url + "?source=nobody")
    assert unknown.status_code == 400
    assert "source" in unknown.json()
    assert call(client, study_admin, "get", url + "?all=perhaps").status_code == 400


# --- rubric templates -----------------------------------------------------------------------


def test_a_template_through_the_api_adds_what_the_page_adds(
    client, study_admin, draft_study, raters
):
    page_study = twin(draft_study, study_admin, raters)
    client.force_login(study_admin)
    client.post(reverse("study_question_template", args=[page_study.token]), {"template": "harm"})
    client.logout()
    url = API.format(draft_study.token) + "questions-from-template/"

    response = call(client, study_admin, "post", url, {"template": "harm"})

    assert response.status_code == 201

    def rubric(study):
        return list(study.questions.order_by("order").values_list("key", "kind", "prompt"))

    added = [question["key"] for question in response.json()["added"]]
    assert added == [key for key, _, _ in rubric(draft_study)][1:]
    assert rubric(draft_study) == rubric(page_study)
    again = call(client, study_admin, "post", url, {"template": "harm"})
    assert again.status_code == 400
    assert again.json()
    assert rubric(draft_study) == rubric(page_study)


def test_templates_are_named_and_for_draft_studies(client, study_admin, open_study):
    url = API.format(open_study.token) + "questions-from-template/"
    unknown = call(client, study_admin, "post", url, {"template": "no-such"})
    assert unknown.status_code == 400
    assert "template" in unknown.json()
    frozen = call(client, study_admin, "post", url, {"template": "harm"})
    assert frozen.status_code == 400
    assert "draft" in frozen.json()["detail"]
    assert open_study.questions.count() == 1


# --- figures ------------------------------------------------------------------------------


def test_figures_through_the_api_are_the_dashboards(request, client, study_admin, raters):
    study = request.getfixturevalue("rated")  # the bundle tests' study, with its statistics
    url = API.format(study.token) + "figures/"
    listed = call(client, study_admin, "get", url)
    assert listed.status_code == 200
    names = [figure["name"] for figure in listed.json()["figures"]]
    assert "overall-means" in names
    means = next(f for f in listed.json()["figures"] if f["name"] == "overall-means")
    assert set(means["urls"]) == {"svg", "png", "pdf"}
    client.force_login(study_admin)
    page = client.get(reverse("study_figure", args=[study.token, "overall-means", "pdf"]))
    client.logout()

    pdf = call(client, study_admin, "get", means["urls"]["pdf"])

    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content == page.content  # the same bytes for the same figure
    svg = call(client, study_admin, "get", means["urls"]["svg"])
    assert svg.content.lstrip().startswith(b"<?xml")
    assert call(client, study_admin, "get", url + "overall-nothing.png/").status_code == 404
    assert call(client, study_admin, "get", url + "overall-means.gif/").status_code == 404
    assert call(client, raters[0], "get", means["urls"]["png"]).status_code == 403


# --- a rater's training feedback ------------------------------------------------------------


def test_training_feedback_through_the_api_is_the_raters_page(client, study_admin, raters):
    study = quality_control_study(study_admin, raters)
    rater = raters[0]
    mine = list(Assignment.objects.filter(study=study, rater=rater).order_by("position"))
    services.rating_save(assignment=mine[0], question=study.questions.get(), answer=3)
    url = f"/api/v1/rate/{study.token}/items/{mine[0].token}/"
    early = call(client, rater, "get", url + "feedback/")
    assert early.status_code == 409  # not submitted yet
    assert call(client, rater, "post", url + "submit/").status_code == 200

    response = call(client, rater, "get", url + "feedback/")

    assert response.status_code == 200
    feedback = response.json()
    assert feedback["lines"] == [
        {
            "prompt": "How good is it?",
            "given": "3 (Acceptable)",
            "expected": "4 (Good) or 5 (Excellent)",
            "correct": False,
        }
    ]
    assert feedback["feedback"] == "A complete and safe summary: 4 or 5."
    assert (feedback["number"], feedback["training"]) == (1, 2)
    assert feedback["next_token"] == mine[1].token
    client.force_login(rater)
    page = client.get(reverse("rater_feedback", args=[study.token, mine[0].token])).text
    assert "3 (Acceptable)" in page
    assert "4 (Good) or 5 (Excellent)" in page
    client.logout()
    # Another rater's item is not there for them; a study item has no feedback.
    assert call(client, raters[1], "get", url + "feedback/").status_code == 404
    study_item = next(a for a in mine if a.kind == "study")
    other = f"/api/v1/rate/{study.token}/items/{study_item.token}/feedback/"
    assert call(client, rater, "get", other).status_code == 409


# --- planning the next study ---------------------------------------------------------------


@pytest.fixture(scope="module")
def vandyke():
    """Van Dyke's pilot as the planning card's tests use it."""
    rows, truth = vandyke_rows()
    return mrmc(rows, figure="auc", truth=truth)


def test_a_power_plan_through_the_api_is_the_planning_cards(
    client, study_admin, draft_study, vandyke
):
    result = store_mrmc(draft_study, vandyke)
    client.force_login(study_admin)
    card = plan_rows(post_power(client, draft_study, pilot=result.pk).text)
    client.logout()
    url = API.format(draft_study.token) + "plan/"
    [pilot] = call(client, study_admin, "get", url + "pilots/").json()["power"]
    assert (pilot["pilot"], pilot["pair"], pilot["usable"]) == (result.pk, "T0 vs T1", True)

    body = {"pilot": result.pk, "difference": 0.05, "power": 0.8, "alpha": 0.05, "readers": "3-8"}
    response = call(client, study_admin, "post", url + "power/", body)

    assert response.status_code == 200
    plan = response.json()
    assert plan["question"] == RANDOM_BOTH
    by_api = {row["readers"]: row["cases"] for row in plan["rows"]}
    assert by_api == {readers: cases for readers, (cases, _) in card.items()}
    assert by_api[3] is None
    assert by_api[4] == 361


def test_a_width_plan_through_the_api_is_the_planning_cards(client, study_admin, draft_study):
    result = store_alpha(draft_study, ci=(0.42, 0.66), cases=40)
    client.force_login(study_admin)
    page = client.post(
        reverse("study_plan_width", args=[draft_study.token]),
        {"pilot": result.pk, "width": "0.12"},
        HTTP_HX_REQUEST="true",
    ).text
    client.logout()
    url = API.format(draft_study.token) + "plan/"
    [pilot] = call(client, study_admin, "get", url + "pilots/").json()["width"]
    assert (pilot["ci_low"], pilot["ci_high"]) == (0.42, 0.66)
    assert pilot["interval_question"] == THESE_RATERS

    response = call(
        client, study_admin, "post", url + "width/", {"pilot": result.pk, "width": 0.12}
    )

    assert response.status_code == 200
    answer = response.json()
    # (0.24 / 0.12) squared times 40 cases: four times the cases for half the width.
    assert answer["cases"] == 160
    assert answer["question"] == THESE_RATERS
    assert "160" in page


def test_plans_name_what_is_wrong(client, study_admin, draft_study, vandyke, raters, outsider):
    mine = store_mrmc(draft_study, vandyke)
    other = services.study_create(creator=study_admin, title="Other", question_prompt="Q?")
    theirs = store_mrmc(other, vandyke)
    url = API.format(draft_study.token) + "plan/"
    base = {"pilot": mine.pk, "difference": 0.05, "readers": "3-8"}
    for fields, field in [
        ({"pilot": theirs.pk}, "pilot"),  # another study's pilot is no choice here
        ({"difference": -1}, "difference"),
        ({"power": 1.5}, "power"),
        ({"readers": "many"}, "readers"),
        ({"difference": "lots"}, "difference"),
    ]:
        response = call(client, study_admin, "post", url + "power/", {**base, **fields})
        assert response.status_code == 400, fields
        assert field in response.json(), response.json()
    narrow = call(client, study_admin, "post", url + "width/", {"pilot": mine.pk, "width": 0.1})
    assert narrow.status_code == 400
    assert "pilot" in narrow.json()  # an MRMC result is no width pilot
    assert call(client, raters[0], "get", url + "pilots/").status_code == 404  # draft: unseen
    assert call(client, outsider, "post", url + "power/", base).status_code == 404


# --- the scripted study in docs/api.md ------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def scripted_study(language: str) -> str:
    """The `language` block of docs/api.md's "A complete scripted study", as it stands."""
    section = DOCS.read_text().split("## A complete scripted study", 1)[1].split("\n## ", 1)[0]
    return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]


@pytest.fixture
def script_env(live_server, study_admin):
    """What the scripts need: the server, the admin's key, and the keys of two people from
    another of the admin's studies."""
    ames, baker = UserFactory(username="ames"), UserFactory(username="baker")
    earlier = services.study_create(
        creator=study_admin, title="Earlier study", raters_per_item=1, question_prompt="Q?"
    )
    services.study_add_raters(study=earlier, users=[ames, baker])
    return {
        "PATH": os.environ["PATH"],
        "API": live_server.url + "/api/v1",
        "EVALAPP_URL": live_server.url,
        "TOKEN": Token.objects.create(user=study_admin).key,
        "RATER1_TOKEN": Token.objects.create(user=ames).key,
        "RATER2_TOKEN": Token.objects.create(user=baker).key,
    }


def assert_scripted_study_done(output: str, folder: Path) -> None:
    study = Study.objects.exclude(title="Earlier study").get()
    assert study.status == Study.Status.LOCKED
    assert list(study.questions.order_by("order").values_list("key", flat=True)) == [
        "overall",
        "harm",
    ]
    raters = study.memberships.filter(role="rater").order_by("pseudonym")
    assert [(m.pseudonym, m.user.username) for m in raters] == [("R1", "ames"), ("R2", "baker")]
    assert [m.to for m in mail.outbox] == [["chen@example.org"]]
    # Two raters, each on all four outputs (two per item), on two questions, all submitted.
    assert study.assignments.filter(submitted_at__isnull=False).count() == 8
    assert "[('R1', 4, 4), ('R2', 4, 4)]" in output
    with zipfile.ZipFile(folder / "bundle.zip") as bundle:
        rows = list(csv.DictReader(io.StringIO(bundle.read("ratings.csv").decode())))
    assert len(rows) == 16
    assert {(row["question"], row["answer"]) for row in rows} == {("overall", "4"), ("harm", "no")}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_curl_scripted_study_in_the_docs_runs_from_nothing_to_the_bundle(
    celery_worker, script_env, tmp_path
):
    done = subprocess.run(
        ["bash", "-c", scripted_study("sh")],
        cwd=tmp_path,
        env=script_env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert_scripted_study_done(done.stdout, tmp_path)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_generated_clients_scripted_study_in_the_docs_runs_too(
    request, celery_worker, script_env, tmp_path
):
    client = request.getfixturevalue("generated")["path"]  # made once for this module
    done = subprocess.run(
        [sys.executable, "-c", scripted_study("python")],
        cwd=tmp_path,
        env={**script_env, "PYTHONPATH": str(client)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert_scripted_study_done(done.stdout, tmp_path)
