"""Consent and rater background: the gate before every rater route (pages, partials, saves,
submits, the API), statement versions, withdrawal, the admin's page and API, raters.csv and
the covariates in the ratings export, the methods sentence, and statistics by rater group."""

import csv
import io

import pandas as pd
import pytest
from django.urls import reverse

from annotation import selectors, services
from annotation.core import consent
from annotation.models import Membership, Rating, Result, TaskRun
from tests.conftest import study_drafted
from tests.factories import alpha_of, submit_rated
from tests.test_api import auth
from tests.test_bundle import build
from tests.test_checklist_evidence import MODEL

pytestmark = pytest.mark.django_db

STATEMENT = "You will rate summaries. Keep every case confidential."


@pytest.fixture
def consent_study(study_admin, raters):
    """An open study that asks for consent, the specialty and years in practice, and workload
    after the last item."""
    study = study_drafted(study_admin, raters)
    services.study_consent_set(study=study, text=STATEMENT)
    for name in ("specialty", "years", "workload"):
        services.rater_question_add_template(study=study, name=name)
    services.study_open(study=study)
    study.refresh_from_db()
    return study


def membership(study, user) -> Membership:
    return study.memberships.get(user=user)


def onboard(study, user, specialty="emergency", years=10) -> Membership:
    m = services.rater_consent_accept(membership=membership(study, user), version=1)
    return services.rater_answers_save(
        membership=m, phase=consent.BACKGROUND, raw={"specialty": specialty, "years": str(years)}
    )


def first(study, user):
    return study.assignments.filter(rater=user).order_by("position").first()


# --- core ----------------------------------------------------------------------------------


def test_next_step_puts_withdrawal_first_then_consent_then_background():
    base = dict(consent_version=2, accepted_version=2, asks_background=True)
    assert consent.next_step(**base, withdrawn=True, answered_background=True) == "withdrawn"
    assert (
        consent.next_step(
            **{**base, "accepted_version": 1}, withdrawn=False, answered_background=True
        )
        == "consent"
    )
    assert consent.next_step(**base, withdrawn=False, answered_background=False) == "background"
    assert consent.next_step(**base, withdrawn=False, answered_background=True) is None
    nothing = dict(consent_version=0, accepted_version=0, asks_background=False)
    assert consent.next_step(**nothing, withdrawn=False, answered_background=False) is None


def test_answers_are_parsed_with_the_rubric_kinds_and_name_the_question():
    drafts = [
        consent.TEMPLATES["specialty"],
        consent.TEMPLATES["years"],
        consent.TEMPLATES["prior_ai"],
    ]
    parsed = consent.parse_answers(
        drafts, {"specialty": "surgery", "years": "7.5", "prior_ai": "no"}
    )
    assert parsed == {"specialty": "surgery", "years": 7.5, "prior_ai": "no"}
    with pytest.raises(consent.rubric.AnswerError, match="^specialty: Choose one of"):
        consent.parse_answers(drafts, {"specialty": "astrology", "years": "3", "prior_ai": "no"})
    with pytest.raises(consent.rubric.AnswerError, match="^years: an answer is required"):
        consent.parse_answers(drafts, {"specialty": "surgery", "prior_ai": "no"})
    with pytest.raises(consent.rubric.AnswerError, match="^years:"):
        consent.parse_answers(drafts, {"specialty": "surgery", "years": "200", "prior_ai": "no"})


def test_the_raters_sentence_counts_groups_and_gives_median_and_iqr():
    sentence = consent.raters_sentence(
        n_raters=12,
        group_by="specialty",
        groups=[("Surgery", 2), ("Emergency medicine", 7), ("Internal medicine", 3)],
        years=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    )
    assert sentence == (
        "12 raters by specialty: Emergency medicine 7, Internal medicine 3, Surgery 2. Years in "
        "practice: "
        "median 6.5 (IQR 3.75 to 9.25; 12 answered)."
    )
    assert consent.raters_sentence(n_raters=1, groups=[], years=[]) == "1 rater."


def test_custom_choices_are_read_one_a_line():
    assert consent.parse_choices("em: Emergency medicine\n\nGeneral practice") == (
        {"value": "em", "label": "Emergency medicine"},
        {"value": "general_practice", "label": "General practice"},
    )


# --- the gate ---------------------------------------------------------------------------------


def rater_routes(study, assignment):
    args = [study.token, assignment.token]
    return {
        "resume": reverse("rater_resume", args=[study.token]),
        "review": reverse("rater_review", args=[study.token]),
        "item": reverse("rater_item", args=args),
        "answers": reverse("rater_answers", args=args),
        "feedback": reverse("rater_feedback", args=args),
        "image": reverse("rater_image", args=[*args, "x"]),
    }


@pytest.mark.parametrize("step", ["consent", "background", "withdrawn"])
def test_no_rater_page_save_submit_or_api_route_works_before_onboarding_or_after_withdrawal(
    client, consent_study, rater, step
):
    study, assignment = consent_study, first(consent_study, rater)
    if step != "consent":
        services.rater_consent_accept(membership=membership(study, rater), version=1)
    if step == "withdrawn":
        onboard(study, rater)
        services.rater_consent_withdraw(membership=membership(study, rater))
    page = {"consent": "rater_consent", "background": "rater_background"}.get(
        step, "rater_my_consent"
    )
    client.force_login(rater)
    for name, url in rater_routes(study, assignment).items():
        response = client.get(url)
        assert response.status_code == 302, name
        assert response.url == reverse(page, args=[study.token]), name
    # The item page's save and the answers probe, as scripts send them: 403 with the step.
    item = rater_routes(study, assignment)["item"]
    question = study.questions.get()
    saved = client.post(item, {"question": question.key, "answer": "3"}, HTTP_HX_REQUEST="true")
    assert saved.status_code == 403
    assert saved.json()["step"] == step
    assert saved["HX-Redirect"] == reverse(page, args=[study.token])
    probe = client.get(rater_routes(study, assignment)["answers"], HTTP_X_REQUESTED_WITH="fetch")
    assert probe.status_code == 403
    submit = client.post(reverse("rater_submit", args=[study.token, assignment.token]))
    assert submit.status_code == 302
    assert not Rating.objects.filter(assignment__rater=rater).exists()
    assignment.refresh_from_db()
    assert assignment.submitted_at is None
    # The API: every rater route refuses with 403 and the reason.
    headers = auth(rater)
    base = f"/api/v1/rate/{study.token}/items/"
    for method, url, body in [
        ("get", base, None),
        ("get", f"{base}{assignment.token}/", None),
        ("post", f"{base}{assignment.token}/answers/", {"question": question.key, "answer": 3}),
        ("post", f"{base}{assignment.token}/submit/", {}),
        ("get", f"{base}{assignment.token}/feedback/", None),
    ]:
        response = getattr(client, method)(
            url, body, headers=headers, content_type="application/json"
        )
        assert response.status_code == 403, url
        assert response.json()["detail"] == selectors.consent.STEP_MESSAGES[step]
    assert not Rating.objects.filter(assignment__rater=rater).exists()


def test_after_consent_and_background_the_rater_rates(rater_client, consent_study, rater):
    onboard(consent_study, rater)
    assignment = first(consent_study, rater)
    response = rater_client.get(reverse("rater_resume", args=[consent_study.token]))
    assert response.url == reverse("rater_item", args=[consent_study.token, assignment.token])
    question = consent_study.questions.get()
    url = reverse("rater_item", args=[consent_study.token, assignment.token])
    saved = rater_client.post(
        url, {"question": question.key, "answer": "3"}, HTTP_HX_REQUEST="true"
    )
    assert saved.status_code == 200
    assert Rating.objects.get(assignment=assignment).answer == 3


def test_a_study_asking_nothing_is_not_gated(rater_client, open_study, rater):
    response = rater_client.get(reverse("rater_resume", args=[open_study.token]))
    assert "/consent/" not in response.url
    assert response.url.startswith(f"/rate/{open_study.token}/")


def test_consent_page_then_background_page_store_the_answers(rater_client, consent_study, rater):
    token = consent_study.token
    page = rater_client.get(reverse("rater_consent", args=[token]))
    assert STATEMENT in page.text
    assert "version 1" in page.text
    refused = rater_client.post(reverse("rater_consent", args=[token]), {"version": "1"})
    assert membership(consent_study, rater).consent_version == 0
    assert refused.url == reverse("rater_consent", args=[token])
    accepted = rater_client.post(
        reverse("rater_consent", args=[token]), {"version": "1", "accept": "1"}
    )
    assert accepted.url == reverse("rater_background", args=[token])
    form = rater_client.get(accepted.url)
    assert "What is your clinical specialty?" in form.text
    assert "How demanding" not in form.text  # post-study comes after the last item
    bad = rater_client.post(accepted.url, {"specialty": "emergency", "years": "-3"})
    assert bad.status_code == 200
    # The refusal names the question as the rater reads it, not by its key.
    assert "“How many years have you been in practice (since qualifying)?”:" in bad.text
    assert membership(consent_study, rater).background_at is None
    done = rater_client.post(accepted.url, {"specialty": "emergency", "years": "12"})
    assert done.url == reverse("rater_resume", args=[token])
    m = membership(consent_study, rater)
    assert m.background == {"specialty": "emergency", "years": 12.0}
    assert m.consent_version == 1
    assert m.consent_accepted_at is not None


# --- versions ---------------------------------------------------------------------------------


def test_a_changed_statement_is_a_new_version_accepted_again(client, consent_study, rater):
    onboard(consent_study, rater)
    services.study_consent_set(study=consent_study, text=STATEMENT)  # the same: no new version
    consent_study.refresh_from_db()
    assert consent_study.consent_version == 1
    services.study_consent_set(study=consent_study, text=STATEMENT + " Version two.")
    consent_study.refresh_from_db()
    assert consent_study.consent_version == 2
    assert selectors.consent_text(study=consent_study, version=1) == STATEMENT  # kept as accepted
    client.force_login(rater)
    response = client.get(reverse("rater_resume", args=[consent_study.token]))
    assert response.url == reverse("rater_consent", args=[consent_study.token])
    assert "has changed since you accepted" in client.get(response.url).text
    with pytest.raises(services.consent.ValidationError):
        services.rater_consent_accept(membership=membership(consent_study, rater), version=1)
    services.rater_consent_accept(membership=membership(consent_study, rater), version=2)
    response = client.get(reverse("rater_resume", args=[consent_study.token]))
    assert "/consent/" not in response.url  # the background stays answered


def test_questions_about_raters_change_only_in_a_draft(consent_study):
    with pytest.raises(services.consent.ValidationError, match="draft"):
        services.rater_question_add_template(study=consent_study, name="role")
    with pytest.raises(services.consent.ValidationError, match="draft"):
        services.rater_question_remove(study=consent_study, key="years")


# --- withdrawal -------------------------------------------------------------------------------


def test_withdrawal_is_recorded_keeps_ratings_and_shows_to_the_admin(
    client, consent_study, rater, study_admin
):
    onboard(consent_study, rater)
    assignment = first(consent_study, rater)
    services.rating_save(assignment=assignment, question=consent_study.questions.get(), answer=4)
    services.assignment_submit(assignment=assignment)
    client.force_login(rater)
    mine = client.get(reverse("rater_my_consent", args=[consent_study.token]))
    assert STATEMENT in mine.text
    assert "version 1" in mine.text
    assert "ratings you have already submitted are kept" in mine.text
    unconfirmed = client.post(reverse("rater_withdraw", args=[consent_study.token]))
    assert unconfirmed.status_code == 302
    assert membership(consent_study, rater).withdrawn_at is None
    client.post(reverse("rater_withdraw", args=[consent_study.token]), {"confirm": "1"})
    withdrawn_at = membership(consent_study, rater).withdrawn_at
    assert withdrawn_at is not None
    client.post(reverse("rater_withdraw", args=[consent_study.token]), {"confirm": "1"})
    assert membership(consent_study, rater).withdrawn_at == withdrawn_at  # not moved
    assert Rating.objects.filter(assignment=assignment).count() == 1
    assert (
        "You withdrew your consent"
        in client.get(reverse("rater_my_consent", args=[consent_study.token])).text
    )
    # Accepting again does not undo it.
    with pytest.raises(services.consent.ValidationError, match="withdrawn"):
        services.rater_consent_accept(membership=membership(consent_study, rater), version=1)
    client.force_login(study_admin)
    pseudonym = membership(consent_study, rater).pseudonym
    dashboard = client.get(reverse("study_dashboard", args=[consent_study.token]))
    assert f"Withdrawn: {pseudonym}" in dashboard.text


# --- the admin's page and API -------------------------------------------------------------------


def test_admin_defines_consent_and_questions_on_the_page(client, study_admin, draft_study):
    client.force_login(study_admin)
    url = reverse("study_consent", args=[draft_study.token])
    client.post(url, {"action": "consent", "text": "Be kind."})
    client.post(url, {"action": "template", "template": "specialty"})
    client.post(
        url,
        {
            "action": "custom",
            "key": "site",
            "prompt": "Your site?",
            "kind": "single_choice",
            "choices": "a: Site A\nb: Site B",
            "phase": "background",
            "required": "1",
        },
    )
    bad = client.post(
        url, {"action": "custom", "key": "x", "prompt": "?", "kind": "span"}, follow=True
    )
    assert "kind is one of" in bad.text
    draft_study.refresh_from_db()
    assert draft_study.consent_version == 1
    assert draft_study.asks_background
    assert [q.key for q in draft_study.rater_questions.all()] == ["specialty", "site"]
    page = client.get(url)
    assert "Be kind." in page.text
    assert "Your site?" in page.text
    client.post(url, {"action": "remove", "key": "specialty"})
    client.post(url, {"action": "remove", "key": "site"})
    draft_study.refresh_from_db()
    assert not draft_study.asks_background


def test_admin_api_sets_consent_and_questions_and_raters_are_refused(
    client, study_admin, draft_study, rater
):
    base = f"/api/v1/studies/{draft_study.token}"
    headers = auth(study_admin)
    set_ = client.post(
        f"{base}/consent/",
        {"text": "Confidential."},
        headers=headers,
        content_type="application/json",
    )
    assert set_.json() == {"text": "Confidential.", "version": 1}
    added = client.post(
        f"{base}/rater-questions/",
        {"template": "years"},
        headers=headers,
        content_type="application/json",
    )
    assert added.status_code == 201
    assert added.json()["kind"] == "number"
    bad = client.post(
        f"{base}/rater-questions/",
        {"key": "k", "prompt": "p", "kind": "yes_no", "choices": "a: A"},
        headers=headers,
        content_type="application/json",
    )
    assert bad.status_code == 201  # a yes/no ignores typed choices
    wrong = client.post(
        f"{base}/rater-questions/",
        {"key": "z", "prompt": "p", "kind": "single_choice", "choices": "only"},
        headers=headers,
        content_type="application/json",
    )
    assert wrong.status_code == 400
    assert "kind" in wrong.json()
    listed = client.get(f"{base}/rater-questions/", headers=headers).json()
    keys = [q["key"] for q in (listed["results"] if isinstance(listed, dict) else listed)]
    assert keys == ["years", "k"]
    assert client.delete(f"{base}/rater-questions/k/", headers=headers).status_code == 204
    # Admins only: a rater of the (draft) study is not told it exists.
    assert client.get(f"{base}/consent/", headers=auth(rater)).status_code == 404


def test_rater_api_accepts_answers_and_withdraws(client, consent_study, rater):
    headers = auth(rater)
    base = f"/api/v1/rate/{consent_study.token}/consent/"
    mine = client.get(base, headers=headers).json()
    assert mine["next_step"] == "consent"
    assert mine["text"] == STATEMENT
    early = client.post(
        f"{base}background/",
        {"answers": {"specialty": "surgery", "years": 3}},
        headers=headers,
        content_type="application/json",
    )
    assert early.status_code == 400
    stale = client.post(
        f"{base}accept/", {"version": 9}, headers=headers, content_type="application/json"
    )
    assert stale.status_code == 400
    assert "version" in stale.json()
    client.post(f"{base}accept/", {"version": 1}, headers=headers, content_type="application/json")
    bad = client.post(
        f"{base}background/",
        {"answers": {"specialty": "astrology", "years": 3}},
        headers=headers,
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert "specialty" in bad.json()["answers"][0]
    ok = client.post(
        f"{base}background/",
        {"answers": {"specialty": "surgery", "years": 3}},
        headers=headers,
        content_type="application/json",
    )
    assert ok.json()["next_step"] is None
    assert ok.json()["answers"] == {
        "specialty": "surgery",
        "years": 3,
    }
    items = client.get(f"/api/v1/rate/{consent_study.token}/items/", headers=headers)
    assert items.status_code == 200
    unconfirmed = client.post(
        f"{base}withdraw/", {"confirm": False}, headers=headers, content_type="application/json"
    )
    assert unconfirmed.status_code == 400
    gone = client.post(
        f"{base}withdraw/", {"confirm": True}, headers=headers, content_type="application/json"
    )
    assert gone.json()["withdrawn_at"] is not None
    assert gone.json()["next_step"] == "withdrawn"
    assert (
        client.get(f"/api/v1/rate/{consent_study.token}/items/", headers=headers).status_code == 403
    )


def test_a_rater_never_sees_another_raters_background(client, consent_study, raters):
    onboard(consent_study, raters[1], specialty="radiology", years=31)
    other = membership(consent_study, raters[1]).pseudonym
    client.force_login(raters[0])
    services.rater_consent_accept(membership=membership(consent_study, raters[0]), version=1)
    # The rater's own form lists the choices, none of them ticked, and no one's years.
    form = client.get(reverse("rater_background", args=[consent_study.token])).text
    assert 'value="radiology"' in form
    assert " checked" not in form
    assert 'value="31' not in form
    for url in [
        reverse("rater_my_consent", args=[consent_study.token]),
        reverse("rater_consent", args=[consent_study.token]),
        reverse("rater_home"),
    ]:
        text = client.get(url, follow=True).text
        assert "radiology" not in text.lower(), url
        assert f">{other}<" not in text, url
    mine = client.get(
        f"/api/v1/rate/{consent_study.token}/consent/", headers=auth(raters[0])
    ).json()
    assert mine["answers"] == {}  # their own (none yet), never anyone else's
    assert other not in str(mine)
    # The admin's page and API are not the rater's.
    assert client.get(reverse("study_consent", args=[consent_study.token])).status_code == 404
    raters_api = f"/api/v1/studies/{consent_study.token}/consent/raters/"
    assert client.get(raters_api, headers=auth(raters[0])).status_code == 403


# --- exports ------------------------------------------------------------------------------------


@pytest.fixture
def rated_with_background(consent_study, raters, settings, tmp_path):
    settings.EXPORT_DIR = tmp_path / "exports"
    onboard(consent_study, raters[0], specialty="emergency", years=4)
    onboard(consent_study, raters[1], specialty="emergency", years=10)
    onboard(consent_study, raters[2], specialty="internal", years=20)
    services.rater_consent_withdraw(membership=membership(consent_study, raters[2]))
    question = consent_study.questions.get()
    for assignment in consent_study.assignments.select_related("item__output__source", "rater"):
        model = assignment.item.output.source.label == MODEL
        # The emergency physicians agree (4 for the model, 2 for the human); the internist does not.
        value = (4 if model else 2) if assignment.rater != raters[2] else (1 if model else 5)
        services.rating_save(assignment=assignment, question=question, answer=value)
    submit_rated(consent_study)
    run = TaskRun.objects.create(study=consent_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    return consent_study


def test_raters_csv_in_the_bundle_reads_back_with_pandas(rated_with_background, raters):
    study = rated_with_background
    archive = build(study)
    frame = pd.read_csv(io.BytesIO(archive.read("raters.csv")), keep_default_na=False)
    assert list(frame.columns) == [
        "rater",
        "consent_version",
        "consent_accepted_at",
        "withdrawn_at",
        "rater_specialty",
        "rater_years",
        "rater_workload",
    ]
    by_rater = frame.set_index("rater")
    third = membership(study, raters[2]).pseudonym
    assert by_rater.loc[third, "rater_specialty"] == "internal"
    assert float(by_rater.loc[third, "rater_years"]) == 20.0
    assert by_rater.loc[third, "withdrawn_at"] != ""
    assert (
        pd.to_datetime(by_rater["consent_accepted_at"], format="%Y-%m-%dT%H:%M:%SZ", utc=True)
        .notna()
        .all()
    )
    first_rater = membership(study, raters[0]).pseudonym
    assert by_rater.loc[first_rater, "withdrawn_at"] == ""
    assert list(by_rater["consent_version"]) == [1, 1, 1]
    methods = archive.read("methods.md").decode()
    assert "3 raters by specialty: Emergency medicine 2, Internal medicine 1." in methods
    assert "Years in practice: median 10 (IQR 7 to 15; 3 answered)." in methods
    datapackage = archive.read("datapackage.json").decode()
    assert "rater_specialty" in datapackage
    # ratings.csv joins on `rater`: every rating finds its rater.
    ratings = pd.read_csv(io.BytesIO(archive.read("ratings.csv")))
    joined = ratings.merge(frame, on="rater", how="left", validate="many_to_one")
    assert joined["rater_specialty"].isin(["emergency", "internal"]).all()


def test_ratings_export_joins_the_background_by_pseudonym(
    client, study_admin, rated_with_background, raters
):
    study = rated_with_background
    client.force_login(study_admin)
    body = b"".join(client.get(reverse("study_ratings_csv", args=[study.token])).streaming_content)
    lines = list(csv.DictReader(io.StringIO(body.decode())))
    third = membership(study, raters[2]).pseudonym
    for line in lines:
        expected = "internal" if line["rater"] == third else "emergency"
        assert line["rater_specialty"] == expected
        assert (line["rater_withdrawn_at"] != "") == (line["rater"] == third)
    api = client.get(
        f"/api/v1/studies/{study.token}/ratings/?format=csv", headers=auth(study_admin)
    )
    api_body = b"".join(api.streaming_content) if api.streaming else api.content
    assert "rater_specialty" in api_body.decode().splitlines()[0]
    admins_table = client.get(
        f"/api/v1/studies/{study.token}/consent/raters/", headers=auth(study_admin)
    ).json()["results"]
    by_rater = {row["rater"]: row for row in admins_table}
    assert by_rater[third]["answers"] == {"specialty": "internal", "years": 20.0}
    assert by_rater[third]["withdrawn_at"] is not None


# --- statistics by group ------------------------------------------------------------------------


def test_agreement_and_mean_by_specialty_are_stored_and_shown(
    client, study_admin, rated_with_background, raters
):
    study = rated_with_background
    question = study.questions.get()
    stored = {
        r.statistic: r for r in Result.objects.filter(study=study, statistic__startswith="group_")
    }
    assert set(stored) == {
        "group_alpha:emergency",
        "group_mean:emergency",
        "group_alpha:internal",
        "group_mean:internal",
    }
    values = [
        rating.value
        for rating in Rating.objects.filter(
            assignment__study=study, question=question, assignment__rater__in=raters[:2]
        )
    ]
    assert stored["group_mean:emergency"].value == pytest.approx(sum(values) / len(values))
    assert stored["group_mean:internal"].value == pytest.approx(3.0)  # as many 1s as 5s
    assert stored["group_alpha:emergency"].detail["n_group_raters"] == 2
    # The two emergency physicians agree perfectly wherever they share an item; the internist
    # alone has no one to agree with.
    alpha = stored["group_alpha:emergency"].value
    assert alpha == pytest.approx(1.0)
    assert stored["group_alpha:emergency"].n_units == 2  # the items both of them rated
    assert stored["group_alpha:internal"].value is None
    # Over every rater the internist's disagreement shows: the split is not the whole.
    assert alpha_of(study).value < 0.5
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[study.token])).text
    assert "By rater background" in page
    assert "few raters gives a wide interval" in page
    assert "Emergency medicine" in page
    assert "Internal medicine" in page


def test_post_study_questions_are_offered_after_the_last_item_and_optional(
    rater_client, consent_study, rater
):
    onboard(consent_study, rater)
    question = consent_study.questions.get()
    for assignment in consent_study.assignments.filter(rater=rater):
        services.rating_save(assignment=assignment, question=question, answer=3)
        services.assignment_submit(assignment=assignment)
    done = rater_client.get(reverse("rater_resume", args=[consent_study.token]))
    url = reverse("rater_post_study", args=[consent_study.token])
    assert f'href="{url}"' in done.text
    form = rater_client.get(url)
    assert "How demanding was this rating task?" in form.text
    assert "What is your clinical specialty?" not in form.text
    skipped = rater_client.post(url, {})  # optional: nothing answered is fine
    assert skipped.status_code == 302
    rater_client.post(url, {"workload": "6"})
    m = membership(consent_study, rater)
    assert m.post_study == {"workload": 6}
    assert m.background == {"specialty": "emergency", "years": 10.0}  # untouched
    done = rater_client.get(reverse("rater_resume", args=[consent_study.token]))
    assert f'href="{url}"' not in done.text  # answered: no longer offered
