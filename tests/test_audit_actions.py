"""What the audit trail records: one test per family of actions, each checking who, from which
address, and the old and new values. Most go through the pages and the API where people act;
a few call the service the page and the API share, under the context the middleware would set
(sources and judges, raters, recomputations, consent and adaptive settings), since the entry is
written by the service whichever entry point calls it. And what it must not record: a rater's
saves, a password. More families: test_audit_accounts, _admin, _design and _people."""

from io import StringIO

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token

from annotation import services, tasks
from annotation.core import audit
from annotation.models import AuditEvent, Invitation, Rating, Study, TaskRun
from tests.factories import PASSWORD, UserFactory
from tests.test_rater_views import item_url, own_assignments

pytestmark = pytest.mark.django_db

ADDRESS = "198.51.100.7"


def _newest(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("-seq").first()


def _admin_client(client, user):
    client.force_login(user)
    return client


def test_creating_a_study_on_the_page_records_who_from_where_and_its_settings(client, study_admin):
    _admin_client(client, study_admin)
    client.post(
        reverse("study_create"),
        {
            "title": "Discharge summaries",
            "instructions": "Rate each summary.",
            "raters_per_item": 2,
            "question_prompt": "How accurate?",
            "scale": "0 = Wrong\n1 = Partly\n2 = Right",
            "level": "ordinal",
        },
        REMOTE_ADDR=ADDRESS,
    )
    study = Study.objects.get(title="Discharge summaries")
    event = _newest("study.created")
    assert (event.actor_id, event.actor_username) == (study_admin.pk, "studyadmin")
    assert (event.via, event.address) == ("web", ADDRESS)
    assert (event.study_id, event.study_title) == (study.pk, "Discharge summaries")
    assert event.details["settings"]["raters_per_item"] == 2
    assert event.details["question"]["prompt"] == "How accurate?"


def test_rubric_changes_record_the_question_added_and_removed(client, study_admin, draft_study):
    _admin_client(client, study_admin)
    url = reverse("study_question_add", args=[draft_study.token])
    client.post(
        url,
        {"key": "harm", "prompt": "Could it harm?", "kind": "yes_no", "level": "nominal"},
        REMOTE_ADDR=ADDRESS,
    )
    added = _newest("rubric.changed")
    assert added.details["added"]["prompt"] == "Could it harm?"
    assert added.actor_username == "studyadmin"
    client.post(
        reverse("study_question_remove", args=[draft_study.token, "harm"]),
        {"confirm": "yes"},
        REMOTE_ADDR=ADDRESS,
    )
    removed = _newest("rubric.changed")
    assert removed.seq > added.seq
    assert removed.details["removed"]["key"] == "harm"
    assert removed.details["removed"]["prompt"] == "Could it harm?"


def test_analysis_settings_record_old_and_new_values(client, study_admin, open_study):
    _admin_client(client, study_admin)
    client.post(
        reverse("study_analysis", args=[open_study.token]),
        {"p_adjustment": "bonferroni", "judge_epsilon": "0.15"},
        REMOTE_ADDR=ADDRESS,
    )
    event = _newest("settings.changed")
    assert event.details["p_adjustment"] == {"old": "holm", "new": "bonferroni"}
    assert event.details["judge_epsilon"] == {"old": "0.2", "new": "0.15"}
    assert event.address == ADDRESS


def test_an_import_records_the_file_and_its_counts(client, study_admin):
    study = services.study_create(creator=study_admin, title="Imported", question_prompt="Good?")
    _admin_client(client, study_admin)
    upload = SimpleUploadedFile(
        "batch.csv", b"case_id,input,source,output\nc1,Q,model-a,A\nc1,Q,model-b,B\n"
    )
    client.post(reverse("study_import", args=[study.token]), {"file": upload})
    event = _newest("import.cases")
    assert event.details["file"] == "batch.csv"
    assert event.details["rows"] == 2
    assert event.details["outputs_created"] == 2
    assert event.actor_username == "studyadmin"


def test_a_rejected_import_leaves_no_entry(client, study_admin):
    study = services.study_create(creator=study_admin, title="Imported", question_prompt="Good?")
    _admin_client(client, study_admin)
    upload = SimpleUploadedFile("bad.csv", b"case_id,input\nc1,\n")
    client.post(reverse("study_import", args=[study.token]), {"file": upload})
    assert not AuditEvent.objects.filter(action="import.cases", study_id=study.pk).exists()


def test_raters_added_removed_and_reassigned_are_recorded(client, study_admin, open_study, raters):
    extra = UserFactory(username="rater9")
    with audit.acting_as(audit.Acting(via="web", address=ADDRESS, user=lambda: study_admin)):
        services.study_add_raters(study=open_study, users=[extra])
        services.rater_remove(study=open_study, pseudonym="R4")
        services.assignments_reassign(study=open_study, rater=raters[1])
    added, removed = _newest("rater.added"), _newest("rater.removed")
    assert added.details == {"rater": "R4", "user": "rater9"}
    assert removed.details["rater"] == "R4"
    assert removed.details["user"] == "rater9"
    reassigned = _newest("assignments.reassigned")
    assert reassigned.details["rater"] == "R2"
    assert reassigned.details["items_moved"] > 0
    assert {added.actor_username, removed.actor_username, reassigned.actor_username} == {
        "studyadmin"
    }


def test_invitations_sent_revoked_and_accepted_are_recorded(
    client, study_admin, draft_study, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _admin_client(client, study_admin)
    client.post(
        reverse("study_invite", args=[draft_study.token]),
        {"emails": "a@example.org\nb@example.org"},
        REMOTE_ADDR=ADDRESS,
    )
    assert len(mail.outbox) == 2
    sent = AuditEvent.objects.filter(action="invitation.sent").order_by("seq")
    assert [event.details["email"] for event in sent] == ["a@example.org", "b@example.org"]
    first = Invitation.objects.get(email="a@example.org")
    client.post(
        reverse("study_revoke_invitation", args=[draft_study.token, first.pk]),
        REMOTE_ADDR=ADDRESS,
    )
    assert _newest("invitation.revoked").details == {"email": "a@example.org"}
    invitee = UserFactory(username="invitee", email="b@example.org")
    second = Invitation.objects.get(email="b@example.org")
    client.force_login(invitee)
    client.post(reverse("invitation", args=[second.token]), REMOTE_ADDR=ADDRESS)
    accepted = _newest("invitation.accepted")
    assert accepted is not None, "the invitation was not accepted"
    assert accepted.actor_username == "invitee"
    assert _newest("rater.added").details["user"] == "invitee"


def test_the_lifecycle_is_recorded_with_old_and_new_status(client, study_admin, draft_study):
    _admin_client(client, study_admin)
    confirm = {"confirm": "yes"}
    client.post(reverse("study_open", args=[draft_study.token]), confirm, REMOTE_ADDR=ADDRESS)
    client.post(reverse("study_lock", args=[draft_study.token]), confirm, REMOTE_ADDR=ADDRESS)
    client.post(
        reverse("study_analysis_reopen", args=[draft_study.token]),
        {**confirm, "reason": "A judge was left out"},
    )
    client.post(reverse("study_analysis_close", args=[draft_study.token]), confirm)
    client.post(reverse("study_archive", args=[draft_study.token]), confirm)
    actions = list(
        AuditEvent.objects.filter(study_id=draft_study.pk, action__regex=r"^(study|analysis)\.")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == [
        "study.created",
        "study.opened",
        "study.locked",
        "analysis.reopened",
        "analysis.closed",
        "study.archived",
    ]
    assert _newest("study.locked").details == {"status": {"old": "open", "new": "locked"}}
    assert _newest("study.opened").details["assignments"] > 0
    assert _newest("analysis.reopened").details == {"reason": "A judge was left out"}


def test_sources_and_judges_record_their_settings_and_changes(study_admin):
    study = services.study_create(creator=study_admin, title="Models", question_prompt="Good?")
    with audit.acting_as(audit.Acting(via="api", address=ADDRESS, user=lambda: study_admin)):
        source = services.source_create(
            study=study, label="Model A", base_url="http://127.0.0.1:9/v1", model_name="m1"
        )
        services.source_update(source=source, model_name="m2", temperature=0.5)
        judge = services.judge_create(
            study=study, label="Judge", base_url="http://127.0.0.1:9/v1", model_name="j1"
        )
        services.judge_update(judge=judge, model_name="j2")
    created = _newest("source.created")
    assert created.details["label"] == "Model A"
    assert created.details["model_name"] == "m1"
    changed = _newest("source.changed")
    assert changed.details == {
        "model_name": {"old": "m1", "new": "m2"},
        "temperature": {"old": None, "new": "0.5"},
    }
    assert changed.via == "api"
    assert changed.address == ADDRESS
    assert _newest("judge.created").details["model_name"] == "j1"
    assert _newest("judge.changed").details == {"model_name": {"old": "j1", "new": "j2"}}


def test_a_recomputation_is_recorded_when_queued_and_when_finished(study_admin, open_study):
    with audit.acting_as(audit.Acting(via="web", address=ADDRESS, user=lambda: study_admin)):
        run = services.task_run_create(
            study=open_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT, user=study_admin
        )
    queued = _newest("job.queued")
    assert queued.details == {"job": "compute_agreement", "run": run.pk}
    assert queued.actor_username == "studyadmin"
    tasks.compute_agreement.apply(args=[run.pk])  # the worker's task, run here
    finished = _newest("job.finished")
    assert finished.via == "worker"
    assert finished.actor_username == "studyadmin"  # who queued it
    assert finished.details["status"] == "succeeded"
    assert finished.address == ""  # a worker has no client


def test_downloads_of_ratings_and_the_unblinding_key_are_recorded(client, study_admin, open_study):
    _admin_client(client, study_admin)
    response = client.get(
        reverse("study_ratings_csv", args=[open_study.token]), REMOTE_ADDR=ADDRESS
    )
    b"".join(response.streaming_content)
    page = _newest("ratings.downloaded")
    assert (page.via, page.actor_username, page.address) == ("web", "studyadmin", ADDRESS)
    token = Token.objects.create(user=study_admin)
    client.logout()
    url = f"/api/v1/studies/{open_study.token}/unblinding-key/"
    response = client.get(
        url + "?format=csv", HTTP_AUTHORIZATION=f"Token {token.key}", REMOTE_ADDR=ADDRESS
    )
    b"".join(response.streaming_content)
    key = _newest("unblinding_key.downloaded")
    assert (key.via, key.actor_username, key.address) == ("api", "studyadmin", ADDRESS)
    assert key.details["format"] == "csv"
    client.get(
        f"/api/v1/studies/{open_study.token}/ratings/", HTTP_AUTHORIZATION=f"Token {token.key}"
    )
    assert _newest("ratings.downloaded").details["format"] == "json"


def test_a_refused_download_is_not_recorded(client, rater, open_study):
    client.force_login(rater)
    before = AuditEvent.objects.count()
    response = client.get(f"/api/v1/studies/{open_study.token}/unblinding-key/")
    assert response.status_code == 403
    assert AuditEvent.objects.count() == before


def test_api_token_creation_and_rotation_are_recorded_without_the_token(client, rater):
    client.force_login(rater)
    client.post(reverse("api_token"), REMOTE_ADDR=ADDRESS)
    client.post(reverse("api_token"), {"confirm": "yes"}, REMOTE_ADDR=ADDRESS)
    created, rotated = _newest("api_token.created"), _newest("api_token.rotated")
    assert created.actor_username == rotated.actor_username == "rater1"
    key = Token.objects.get(user=rater).key
    assert key not in str(rotated.details)
    assert key not in str(created.details)


def test_sign_ins_sign_outs_and_failed_sign_ins_are_recorded(client, rater):
    client.post(
        reverse("login"), {"username": "rater1", "password": "wrong-guess"}, REMOTE_ADDR=ADDRESS
    )
    failed = _newest("account.sign_in_failed")
    assert (failed.actor_id, failed.actor_username, failed.address) == (None, "rater1", ADDRESS)
    assert "wrong-guess" not in str(AuditEvent.objects.values_list("details", flat=True)[::1])
    client.post(reverse("login"), {"username": "nobody-here", "password": "x"}, REMOTE_ADDR=ADDRESS)
    assert _newest("account.sign_in_failed").actor_username == "nobody-here"
    client.post(reverse("login"), {"username": "rater1", "password": PASSWORD}, REMOTE_ADDR=ADDRESS)
    signed_in = _newest("account.signed_in")
    assert (signed_in.actor_id, signed_in.address) == (rater.pk, ADDRESS)
    client.post(reverse("logout"), REMOTE_ADDR=ADDRESS)
    assert _newest("account.signed_out").actor_id == rater.pk


def test_a_raters_saves_and_submits_write_no_entry(rater_client, open_study, rater):
    before = AuditEvent.objects.count()
    assignment = own_assignments(open_study, rater)[0]
    url = item_url(open_study, assignment)
    rater_client.post(url, {"question": "overall", "answer": "4"})
    assert Rating.objects.filter(assignment=assignment).exists()
    rater_client.post(reverse("rater_submit", args=[open_study.token, assignment.token]))
    assignment.refresh_from_db()
    assert assignment.submitted_at is not None
    assert AuditEvent.objects.count() == before


def test_an_entry_stays_attributable_after_its_user_is_deleted(study_admin):
    person = UserFactory(username="leaver")
    services.api_token_rotate(user=person)
    person_id = person.pk
    person.delete()
    event = _newest("api_token.created")
    assert (event.actor_id, event.actor_username) == (person_id, "leaver")
    call_command("verify_audit", stdout=StringIO())  # the chain is untouched by the deletion


def test_deleting_a_study_keeps_its_log(study_admin, draft_study):
    study_id = draft_study.pk
    services.study_delete(study=draft_study)
    assert AuditEvent.objects.filter(study_id=study_id, action="study.created").exists()
    assert _newest("study.deleted").study_title == "Summaries of patient questions"


def test_consent_adaptive_and_notification_settings_record_old_and_new(study_admin, draft_study):
    services.study_consent_set(study=draft_study, text="I agree to take part.")
    services.study_consent_set(study=draft_study, text="I agree, version two.")
    consent = _newest("consent.changed")
    assert consent.details["text"] == {
        "old": "I agree to take part.",
        "new": "I agree, version two.",
    }
    assert consent.details["consent_version"] == {"old": 1, "new": 2}
    assert consent.via == "system"  # no request, worker or command said who
    rule = {"kind": "range", "question": "overall", "threshold": 2}
    services.adaptive_design_set(study=draft_study, rule=rule, extra_m=1)
    adaptive = _newest("adaptive.changed")
    assert adaptive.details["extra_m"] == {"old": None, "new": 1}
    assert adaptive.details["rule"]["new"]["threshold"] == 2
    services.adaptive_design_clear(study=draft_study)
    assert _newest("adaptive.changed").details["extra_m"] == {"old": 1, "new": None}
    services.study_notifications_update(
        study=draft_study, reminders_enabled=True, reminder_stall_days=9, admin_notices_enabled=True
    )
    notices = _newest("notifications.changed")
    assert notices.details["reminder_stall_days"]["new"] == 9
    assert "reminder_stall_days" in notices.details


def test_a_change_in_the_django_admin_is_recorded_with_old_and_new_values(rf, draft_study):
    from django.contrib import admin
    from django.forms.models import model_to_dict

    staff = UserFactory(username="operator", is_staff=True, is_superuser=True)
    study_admin_page = admin.site._registry[Study]
    request = rf.post("/admin/")
    request.user = staff
    form_class = study_admin_page.get_form(request, draft_study, change=True)
    data = {key: value for key, value in model_to_dict(draft_study).items() if value is not None}
    form = form_class({**data, "title": "Renamed in the admin"}, instance=draft_study)
    assert form.is_valid(), form.errors
    with audit.acting_as(audit.Acting(via="web", address=ADDRESS, user=lambda: staff)):
        study_admin_page.save_model(request, form.save(commit=False), form, change=True)
    event = _newest("admin.changed")
    assert event.details == {
        "title": {"old": "Summaries of patient questions", "new": "Renamed in the admin"}
    }
    assert (event.actor_username, event.study_title) == ("operator", "Renamed in the admin")


def test_behind_a_proxy_the_address_the_proxy_saw_is_recorded(client, rater, settings):
    settings.NUM_PROXIES = 1
    client.post(
        reverse("login"),
        {"username": "rater1", "password": "wrong-guess"},
        REMOTE_ADDR="10.0.0.2",  # the proxy
        HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7",  # what the client sent, then the proxy
    )
    assert _newest("account.sign_in_failed").address == "198.51.100.7"
