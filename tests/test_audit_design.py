"""More of what the audit trail records: an assisted-reading study's arms, items chosen for
adjudication, a ratings import (which locks the study and makes raters), a checklist linked to a
study and its facts copied out, and automatic recomputations."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from annotation import services
from annotation.core import audit
from annotation.models import AuditEvent, Study
from checklists import services as checklist_services
from tests import adjudication_support
from tests.reading_support import reading_study
from tests.support.vanveen import as_long_csv, vanveen_rows
from tests.test_checklist_evidence import linked_report, rated_study  # noqa: F401

pytestmark = pytest.mark.django_db

ADDRESS = "198.51.100.10"


def _entries(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def _as(user):
    return audit.acting_as(audit.Acting(via="web", address=ADDRESS, user=lambda: user))


def test_an_arm_added_to_an_assisted_reading_study_is_recorded(study_admin, raters):
    with _as(study_admin):
        study = reading_study(study_admin, raters, named=True)
    [arm] = _entries("arm.added")
    assert arm.study_id == study.pk
    assert arm.details == {
        "key": "llm",
        "kind": "source",
        "source": "Model X",
        "description": "",
        "named": True,
    }
    assert (arm.actor_username, arm.address) == ("studyadmin", ADDRESS)


def test_items_chosen_for_adjudication_are_recorded_with_the_rule(study_admin, raters):
    study = adjudication_support.rated_study(study_admin, raters)
    rule = {"kind": "range", "question": "overall", "threshold": 1}
    with _as(study_admin):
        selection = services.adjudication_select(
            study=study, by=study_admin, mode="rule", rule=rule
        )
    [chosen] = _entries("adjudication.selected")
    assert (chosen.study_id, chosen.object_id) == (study.pk, str(selection.pk))
    assert chosen.details["mode"] == "rule"
    assert chosen.details["rule"]["threshold"] == 1
    assert (chosen.details["eligible"], chosen.details["chosen"]) == (
        selection.eligible,
        selection.chosen,
    )
    assert chosen.actor_username == "studyadmin"


def test_a_ratings_import_records_the_lock_and_the_raters_it_made(vanveen_study, tmp_path):
    # The import's one door is a management command, attributed to who ran it.
    path = tmp_path / "vanveen.csv"
    path.write_bytes(as_long_csv(vanveen_rows()))
    call_command("import_ratings", vanveen_study.token, str(path), stdout=StringIO())
    vanveen_study.refresh_from_db()
    assert vanveen_study.status == Study.Status.LOCKED
    [entry] = _entries("import.ratings")
    assert entry.details["file"] == "vanveen.csv"
    assert entry.details["rows"] == 1496
    assert entry.details["status"] == {"old": "draft", "new": "locked"}
    pseudonyms = [rater["pseudonym"] for rater in entry.details["raters_added"]]
    members = vanveen_study.memberships.filter(role="rater").values_list("pseudonym", flat=True)
    assert pseudonyms == sorted(members)
    assert entry.via == "command"
    # Each rater's account, made by the import, is recorded as made.
    made = {e.details["username"] for e in _entries("account.created")}
    assert {rater["username"] for rater in entry.details["raters_added"]} <= made


def test_a_checklist_linked_to_a_study_and_its_facts_used_are_recorded(
    client,
    linked_report,  # noqa: F811 - the fixture, imported above
    study_admin,
):
    study = linked_report.study
    [linked] = _entries("checklist.linked")
    assert (linked.study_id, linked.details["report"]) == (study.pk, "Summaries paper")
    assert linked.details["checklist"] == "mi-claim-gen"
    client.force_login(study_admin)
    url = reverse("response_use_evidence", args=[linked_report.token, "3.2"])
    client.post(url, headers={"HX-Request": "true"}, REMOTE_ADDR=ADDRESS)
    [used] = _entries("checklist.evidence_used")
    assert (used.study_id, used.details["item"]) == (study.pk, "3.2")
    assert (used.actor_username, used.address) == ("studyadmin", ADDRESS)
    client.post(url, headers={"HX-Request": "true"})  # the same facts again: nothing new
    assert len(_entries("checklist.evidence_used")) == 1


def test_a_report_without_a_study_is_not_in_any_studys_log(study_admin, mi_claim):
    checklist_services.report_create(lead=study_admin, definition=mi_claim, title="No study")
    assert not _entries("checklist.linked")


@pytest.mark.django_db(transaction=True)
def test_automatic_recomputations_are_recorded_as_queued(study_admin, open_study, rater):
    with _as(rater):
        services.statistics_recompute_soon(study=open_study)  # after a rater's submit
        services.statistics_recompute_soon(study=open_study)  # one already waits: no second
    # Not on the submit's path (which writes no entry): when a worker claims it.
    assert not _entries("job.queued")
    run = open_study.task_runs.get(kind="compute_agreement")
    with audit.acting_as(audit.Acting(via="worker")):
        services.task_run_claim(run_id=run.pk)
    [queued] = _entries("job.queued")
    assert (queued.object_id, queued.via, queued.actor_id) == (str(run.pk), "worker", None)
    assert queued.details["job"] == "compute_agreement"
    assert queued.details["automatic"] is True
    assert queued.details["queued_at"] == audit.format_time(run.created_at)
    assert queued.study_id == open_study.pk
    services.task_run_claim(run_id=run.pk)  # claimed already: nothing more
    assert len(_entries("job.queued")) == 1


@pytest.mark.django_db(transaction=True)
def test_the_recomputation_a_lock_queues_is_recorded_when_queued(study_admin, open_study):
    with _as(study_admin):
        services.study_lock(study=open_study)
    [queued] = _entries("job.queued")
    assert queued.details["automatic"] is True
    assert (queued.actor_username, queued.address) == ("studyadmin", ADDRESS)
