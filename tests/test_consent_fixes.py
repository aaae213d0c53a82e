"""Consent and rater background, review 62: a withdrawal the admin cannot undo, the background
answered once while open, multiple-choice answers as JSON, long group values kept apart, the
methods sentence's labels as written, Likert and number questions from the admin's form, and
no extra query for a study that asks its raters nothing."""

import csv
import io
import json
import subprocess

import pandas as pd
import pytest
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation import selectors, services
from annotation.core import consent
from annotation.models import Result, TaskRun
from annotation.views.consent import OWNER_SALT
from tests.conftest import study_drafted
from tests.test_api import auth
from tests.test_bundle import build
from tests.test_consent import consent_study, first, membership, onboard  # noqa: F401

pytestmark = pytest.mark.django_db


def _compute(study):
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))


def _csv(client, study) -> bytes:
    response = client.get(reverse("study_ratings_csv", args=[study.token]))
    return b"".join(response.streaming_content)


# --- 1. a withdrawal cannot be undone by removing the statement ------------------------------


def test_the_statement_cannot_be_removed_once_a_rater_accepted_or_withdrew(
    client, study_admin, raters, open_study
):
    services.study_consent_set(study=open_study, text="Keep it confidential.")
    services.study_consent_set(study=open_study, text="")  # nobody accepted yet: allowed
    open_study.refresh_from_db()
    assert open_study.consent_version == 0
    services.study_consent_set(study=open_study, text="Keep it confidential, please.")
    open_study.refresh_from_db()
    rater = raters[0]
    m = services.rater_consent_accept(membership=membership(open_study, rater), version=2)
    services.rater_consent_withdraw(membership=m)
    with pytest.raises(ValidationError, match="not removed"):
        services.study_consent_set(study=open_study, text="")
    client.force_login(study_admin)
    page = client.post(
        reverse("study_consent", args=[open_study.token]), {"action": "consent", "text": ""}
    )
    assert page.status_code == 302
    open_study.refresh_from_db()
    assert open_study.consent_version == 2
    assert selectors.study_withdrawn_raters(study=open_study) == [m.pseudonym]
    assert selectors.study_ratings_export(study=open_study)[0][-1] == "rater_withdrawn_at"
    client.force_login(rater)
    item = reverse("rater_item", args=[open_study.token, first(open_study, rater).token])
    response = client.get(item)
    assert response.status_code == 302
    assert response.url == reverse("rater_my_consent", args=[open_study.token])


def test_a_withdrawal_without_acceptance_also_keeps_the_statement(raters, open_study):
    services.study_consent_set(study=open_study, text="Keep it confidential.")
    services.rater_consent_withdraw(membership=membership(open_study, raters[1]))
    with pytest.raises(ValidationError):
        services.study_consent_set(study=open_study, text="  ")


# --- 2. the background is answered once, while the study is open ------------------------------


def test_the_background_is_answered_once(rater_client, consent_study, rater):  # noqa: F811
    onboard(consent_study, rater, specialty="emergency", years=4)
    url = reverse("rater_background", args=[consent_study.token])
    response = rater_client.post(url, {"specialty": "surgery", "years": "30"}, follow=True)
    assert "already recorded" in response.text
    assert membership(consent_study, rater).background == {"specialty": "emergency", "years": 4}
    assert rater_client.get(url).status_code == 302  # no form to fill again
    with pytest.raises(ValidationError, match="already recorded"):
        services.rater_answers_save(
            membership=membership(consent_study, rater),
            phase=consent.BACKGROUND,
            raw={"specialty": "surgery", "years": "30"},
        )


def test_no_answers_once_the_study_is_locked(consent_study, raters):  # noqa: F811
    onboard(consent_study, raters[0])
    services.rater_answers_save(
        membership=membership(consent_study, raters[0]),
        phase=consent.POST_STUDY,
        raw={"workload": "3"},
    )
    services.rater_answers_save(  # post-study answers may be revised while open
        membership=membership(consent_study, raters[0]),
        phase=consent.POST_STUDY,
        raw={"workload": "5"},
    )
    services.rater_consent_accept(membership=membership(consent_study, raters[1]), version=1)
    services.study_lock(study=consent_study)
    for user, phase, raw in [
        (raters[0], consent.POST_STUDY, {"workload": "6"}),
        (raters[1], consent.BACKGROUND, {"specialty": "surgery", "years": "3"}),
    ]:
        with pytest.raises(ValidationError, match="closed"):
            services.rater_answers_save(
                membership=membership(consent_study, user), phase=phase, raw=raw
            )
    assert membership(consent_study, raters[0]).post_study == {"workload": 5}
    assert membership(consent_study, raters[1]).background == {}


# --- 3. multiple-choice answers as JSON lists --------------------------------------------------


def test_multiple_choice_answers_read_back_as_lists(
    client, study_admin, raters, settings, tmp_path
):
    settings.EXPORT_DIR = tmp_path / "exports"
    study = study_drafted(study_admin, raters)
    services.study_consent_set(study=study, text="Vertraulich.")
    tools = consent.draft_from_fields(
        {
            "key": "tools",
            "prompt": "Tools?",
            "kind": "multiple_choice",
            "choices": "gpt: GPT\nclaude: Claude",
        }
    )
    services.rater_question_add(study=study, draft=tools)
    services.study_open(study=study)
    for user, answer in zip(raters[:2], [["gpt", "claude"], ["claude"]], strict=True):
        m = services.rater_consent_accept(membership=membership(study, user), version=1)
        services.rater_answers_save(membership=m, phase=consent.BACKGROUND, raw={"tools": answer})
    question = study.questions.get()
    for assignment in study.assignments.filter(rater__in=raters[:2]):
        services.rating_save(assignment=assignment, question=question, answer=3)
    raters_csv = build(study).read("raters.csv")
    client.force_login(study_admin)
    ratings_csv = _csv(client, study)
    by_rater = pd.read_csv(io.BytesIO(raters_csv), keep_default_na=False).set_index("rater")
    first_rater = membership(study, raters[0]).pseudonym
    assert json.loads(by_rater.loc[first_rater, "rater_tools"]) == ["gpt", "claude"]
    ratings = pd.read_csv(io.BytesIO(ratings_csv), keep_default_na=False)
    lists = {tuple(json.loads(cell)) for cell in ratings["rater_tools"]}
    assert lists == {("gpt", "claude"), ("claude",)}
    (tmp_path / "raters.csv").write_bytes(raters_csv)
    # Base R, no package: a JSON list of strings is a quoted, comma-separated line in brackets.
    script = (
        f'r <- read.csv("{tmp_path / "raters.csv"}", stringsAsFactors = FALSE); '
        f'x <- gsub("^\\\\[|\\\\]$", "", r$rater_tools[r$rater == "{first_rater}"]); '
        'cat(scan(text = x, what = "", sep = ",", strip.white = TRUE, quiet = TRUE), sep = "|")'
    )
    found = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, timeout=60)
    assert found.stdout == "gpt|claude", found.stderr


# --- 4. long group values stay apart ----------------------------------------------------------

LONG_A = "university_teaching_hospital_emergency_department_a"
LONG_B = "university_teaching_hospital_emergency_department_b"


def test_long_group_values_sharing_a_beginning_stay_apart(client, study_admin, raters):
    study = study_drafted(study_admin, raters)
    draft = consent.draft_from_fields(
        {"key": "site", "prompt": "Site?", "kind": "single_choice", "required": "1",
         "choices": f"{LONG_A}: Site A\n{LONG_B}: Site B"}
    )  # fmt: skip
    services.rater_question_add(study=study, draft=draft)
    services.study_open(study=study)
    study.refresh_from_db()
    for user, site in zip(raters, [LONG_A, LONG_A, LONG_B], strict=True):
        services.rater_answers_save(
            membership=membership(study, user), phase=consent.BACKGROUND, raw={"site": site}
        )
    question = study.questions.get()
    for assignment in study.assignments.all():
        value = 1 if assignment.rater_id == raters[2].pk else 3
        services.rating_save(assignment=assignment, question=question, answer=value)
        services.assignment_submit(assignment=assignment)
    _compute(study)
    alphas = Result.objects.filter(study=study, statistic__startswith="group_alpha:")
    assert sorted(alphas.values_list("detail__label", "detail__n_group_raters")) == [
        ("Site A", 2),
        ("Site B", 1),
    ]
    assert all(len(name) <= 50 for name in alphas.values_list("statistic", flat=True))
    [table] = selectors.study_background_split(study=study)
    assert [line.label for line in table.lines] == ["Site A", "Site B"]


# --- 5. the methods sentence keeps the labels as written ---------------------------------------


def test_the_raters_sentence_keeps_proper_nouns(study_admin, raters):
    study = study_drafted(study_admin, raters)
    services.rater_question_add_template(study=study, name="country")
    services.study_open(study=study)
    study.refresh_from_db()
    for user, country in zip(raters, ["us", "us", "uk"], strict=True):
        services.rater_answers_save(
            membership=membership(study, user), phase=consent.BACKGROUND, raw={"country": country}
        )
    assert selectors.study_raters_sentence(study=study) == (
        "3 raters by country: United States 2, United Kingdom 1."
    )


# --- 6. Likert and number questions from the form and the API ----------------------------------


def test_admin_form_makes_a_likert_question_and_a_number_with_limits(
    client, study_admin, draft_study
):
    client.force_login(study_admin)
    url = reverse("study_consent", args=[draft_study.token])
    client.post(url, {"action": "custom", "key": "ease", "prompt": "Ease?", "kind": "likert",
                      "choices": "1: Very hard\n2\n3: Very easy"})  # fmt: skip
    client.post(url, {"action": "custom", "key": "age", "prompt": "Age?", "kind": "number",
                      "minimum": "18", "maximum": "99.5"})  # fmt: skip
    refused = client.post(url, {"action": "custom", "key": "bad", "prompt": "Bad?",
                                "kind": "likert", "choices": "low\nhigh"}, follow=True)  # fmt: skip
    assert "each scale point is `number: label`" in refused.text
    questions = {q.key: q for q in draft_study.rater_questions.all()}
    assert set(questions) == {"ease", "age"}
    assert questions["ease"].scale == [
        {"value": 1, "label": "Very hard"},
        {"value": 2, "label": "2"},
        {"value": 3, "label": "Very easy"},
    ]
    assert (questions["age"].minimum, questions["age"].maximum) == (18, 99.5)
    with pytest.raises(consent.rubric.AnswerError, match="^age:"):
        consent.parse_answers([questions["age"].draft], {"age": "17"})


def test_api_adds_a_number_question_with_limits(client, study_admin, draft_study):
    url = f"/api/v1/studies/{draft_study.token}/rater-questions/"
    body = {"key": "age", "prompt": "Age?", "kind": "number", "minimum": 18, "maximum": 99}
    response = client.post(url, body, content_type="application/json", headers=auth(study_admin))
    assert response.status_code == 201, response.content
    assert (response.json()["minimum"], response.json()["maximum"]) == (18, 99)
    bad = {**body, "key": "age2", "minimum": 100}
    response = client.post(url, bad, content_type="application/json", headers=auth(study_admin))
    assert response.status_code == 400
    assert "minimum" in response.text


# --- 7. no query for a study that asks its raters nothing --------------------------------------


def test_a_study_asking_nothing_reads_no_rater_questions(
    client, study_admin, open_study, django_assert_num_queries
):
    with django_assert_num_queries(0):
        assert selectors.split_question(study=open_study) is None
        assert selectors.study_rater_keys(study=open_study) == []
        assert selectors.study_rater_covariates(study=open_study) == ([], {})
        assert selectors.study_background_split(study=open_study) == []
        assert selectors.study_withdrawn_raters(study=open_study) == []
    client.force_login(study_admin)
    client.get(reverse("study_dashboard", args=[open_study.token]))
    with CaptureQueriesContext(connection) as dashboard:
        client.get(reverse("study_dashboard", args=[open_study.token]))
    with CaptureQueriesContext(connection) as export:
        _csv(client, open_study)
    sql = [q["sql"] for q in dashboard.captured_queries + export.captured_queries]
    assert not [s for s in sql if "raterquestion" in s or "'group_%'" in s or "group\\_" in s]


def test_the_ratings_csv_reads_the_questions_about_raters_once(
    client,
    study_admin,
    consent_study,  # noqa: F811
    raters,
):
    """The page's and the API's ratings CSV: its columns and its rows' background come from
    one read of the questions about raters."""
    onboard(consent_study, raters[0])
    services.rating_save(
        assignment=first(consent_study, raters[0]),
        question=consent_study.questions.get(),
        answer=4,
    )
    client.force_login(study_admin)
    api = f"/api/v1/studies/{consent_study.token}/ratings/?format=csv"
    for fetch in (
        lambda: _csv(client, consent_study),
        lambda: b"".join(client.get(api, headers=auth(study_admin)).streaming_content),
    ):
        with CaptureQueriesContext(connection) as export:
            body = fetch().decode()
        [row] = list(csv.DictReader(io.StringIO(body)))
        assert list(row)[-4:] == [
            "rater_specialty",
            "rater_years",
            "rater_workload",
            "rater_withdrawn_at",
        ]
        assert (row["answer"], row["rater_specialty"], row["rater_years"]) == (
            "4",
            "emergency",
            "10.0",
        )
        reads = [q["sql"] for q in export.captured_queries if "raterquestion" in q["sql"]]
        assert len(reads) == 1, reads


def test_answers_posted_signed_out_are_kept_only_with_a_genuine_owner(
    client,
    consent_study,  # noqa: F811
    rater,
):
    url = reverse("rater_background", args=[consent_study.token])
    key = f"rater-answers-kept:{consent_study.token}:background"
    forged = client.post(url, {"owner": "1:forged", "specialty": "surgery", "years": "3"})
    assert forged.status_code == 302
    assert forged.url.startswith(reverse("login"))
    assert key not in client.session
    genuine = signing.dumps([rater.pk, consent_study.token, "background"], salt=OWNER_SALT)
    kept = client.post(url, {"owner": genuine, "specialty": "surgery", "years": "3"})
    assert kept.status_code == 302
    assert client.session[key] == {
        "owner": rater.pk,
        "why": "signed_out",
        "answers": {"specialty": ["surgery"], "years": ["3"]},
    }
    assert membership(consent_study, rater).background == {}  # kept, not stored
