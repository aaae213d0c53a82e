"""A worker's opening of a large study survives its worker killed while it writes the raters'
assignments (after the study has opened, rater by rater): a fresh worker takes the run over
once its lease has passed and writes the rest. Each rater ends with exactly their seeded order,
neither half written nor written twice, the same as the study opened in the request."""

import time

import pytest
from django.db import connection, transaction

from annotation import services
from annotation.models import AuditEvent, PendingAssignments, Study, TaskRun
from annotation.tasks import open_study
from tests.factories import UserFactory
from tests.support.waiting import wait_for_run
from tests.support.worker import kill_worker
from tests.test_worker_faults import redis_server, workers  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.worker,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the kill is timed by the worker's COPY in pg_stat_activity, PostgreSQL's; on "
        "SQLite the job writes with bulk_create, holding the one write lock, so there is no such "
        "moment to see (CI runs this on PostgreSQL)",
    ),
]

# 2,500 cases with two outputs each, every rater rating every output: about 5,000 assignments
# a rater, 50,000 in all, which the job writes in a couple of seconds on PostgreSQL.
CASES, RATERS = 2500, 10
HEADER = "case_id,input,source,output,role,expected,feedback\n"


def _rows() -> bytes:
    rows = [
        "t1,Training question,Writer,Training answer,training,,Read it all.",
        'a1,Attention question,Writer,Please answer 1,attention,"{""overall"": 1}",',
    ]
    for case in range(CASES):
        rows += [f"c{case},Question {case},{s},Answer {case} by {s},,," for s in ("A", "B")]
    return (HEADER + "\n".join(rows) + "\n").encode()


def _drafted(admin, raters, content: bytes, title: str) -> Study:
    study = services.study_create(
        creator=admin,
        title=title,
        question_prompt="How good is it?",
        raters_per_item=RATERS,
        # Each repeat points at its first sight, looked up as its rater is written.
        repeats_per_rater=2,
        seed=97,
    )
    services.study_import_file(study=study, filename="large.csv", content=content)
    services.study_add_raters(study=study, users=raters)
    return study


def _copying() -> bool:
    """Whether another connection to the test database is in a COPY: the worker writing a
    rater's rows, in that rater's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE %s",
            ["COPY %"],
        )
        return cursor.fetchone() is not None


def _wait_until_partly_written(study: Study, timeout: float = 60) -> None:
    """Poll until the study is open, some but not all of its raters' assignments are
    written, and the worker is writing another's; fail if the job got past that before we
    looked."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        opened = Study.objects.filter(pk=study.pk, status=Study.Status.OPEN).exists()
        left = PendingAssignments.objects.filter(study=study).count()
        if opened and 0 < left < RATERS and _copying():
            return
        assert not (opened and left == 0), "the kill came too late to test anything"
        time.sleep(0.01)
    raise AssertionError(f"the study was not partly written after {timeout}s")


def _as_killed(study: Study) -> tuple[set[int], dict[int, set[str]]]:
    """What the killed worker left, read in one snapshot: the raters still pending, and the
    tokens of every rater's assignments. A rater's transaction is all or nothing: written
    whole (1..n, no pending row) or not at all."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        pending = set(
            PendingAssignments.objects.filter(study=study).values_list("rater_id", flat=True)
        )
        rows = study.assignments.values_list("rater_id", "position", "token")
        positions: dict[int, list[int]] = {}
        tokens: dict[int, set[str]] = {}
        for rater_id, position, token in rows:
            positions.setdefault(rater_id, []).append(position)
            tokens.setdefault(rater_id, set()).add(token)
    assert not pending & set(positions), "a rater both pending and (partly) written"
    for rater_id, places in positions.items():
        assert sorted(places) == list(range(1, len(places) + 1)), f"rater {rater_id} half written"
    return pending, tokens


def _orders(study: Study) -> dict[str, list[tuple]]:
    """Each rater's (by pseudonym) assignments in their order, in terms that mean the same in
    any copy of the study; a repeat names its original's item, kind and rater."""
    names = dict(study.memberships.values_list("user_id", "pseudonym"))
    rows = study.assignments.values_list(
        "pk",
        "rater_id",
        "item__output__case__external_id",
        "item__output__source__label",
        "position",
        "kind",
        "flipped",
        "order",
        "session",
        "repeat_of_id",
    )
    described = {pk: (rater, case, label, kind) for pk, rater, case, label, _, kind, *_ in rows}
    orders: dict[str, list[tuple]] = {}
    for _, rater, case, label, position, kind, flipped, order, session, repeat_of in rows:
        original = described[repeat_of] if repeat_of else None
        if original is not None:
            original = (names[original[0]], *original[1:])
        orders.setdefault(names[rater], []).append(
            (position, f"{case}/{label}", kind, flipped, order, session, original)
        )
    return {name: sorted(rows) for name, rows in orders.items()}


def test_a_worker_killed_while_writing_the_assignments_is_replaced_and_they_are_written_once(
    workers,  # noqa: F811 (the fixture imported above)
    study_admin,
    settings,
):
    raters = [UserFactory(username=f"r{i}") for i in range(RATERS)]
    content = _rows()
    study = _drafted(study_admin, raters, content, "Opened by a worker that dies")
    settings.OPEN_BACKGROUND_PLACEMENTS = 1000
    assert services.study_opens_in_background(study=study)
    run = services.study_open_start(study=study, user=study_admin)

    first = workers()
    workers.send(run, task=open_study)
    _wait_until_partly_written(study)
    kill_worker(first)
    time.sleep(0.3)  # a commit the worker sent as it died lands now, or never
    pending, tokens = _as_killed(study)
    assert 0 < len(pending) < RATERS, "the kill came too late to test anything"

    workers()  # a fresh worker takes the run over once its lease has passed
    run = wait_for_run(run.pk, timeout=60)

    assert run.status == TaskRun.Status.SUCCEEDED, run.message
    opened = AuditEvent.objects.get(study_id=study.pk, action="study.opened")
    placements = opened.details["assignments"]
    assert run.message == f"The study is open: {placements} assignments stored."
    assert not PendingAssignments.objects.filter(study=study).exists()
    assert study.assignments.count() == placements
    all_tokens = list(study.assignments.values_list("token", flat=True))
    assert len(set(all_tokens)) == len(all_tokens)
    for rater in raters:
        positions = list(study.assignments.filter(rater=rater).values_list("position", flat=True))
        assert sorted(positions) == list(range(1, len(positions) + 1))
    # The raters written before the kill were left as they were, not written again.
    for rater_id, written in tokens.items():
        kept = set(study.assignments.filter(rater_id=rater_id).values_list("token", flat=True))
        assert kept == written

    twin = _drafted(study_admin, raters, content, "The same study, opened in the request")
    services.study_open(study=twin)
    study.refresh_from_db()
    twin.refresh_from_db()
    assert study.manifest_hash == twin.manifest_hash
    orders = _orders(study)
    assert len(orders) == RATERS
    assert orders == _orders(twin)
