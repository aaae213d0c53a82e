"""The audit trail's hash chain: hashes recomputed independently, `manage.py verify_audit`
catching a changed, deleted, reordered or relinked entry (tampered with by raw SQL, past the
PostgreSQL trigger as a DBA would), the trigger and the ORM refusing changes, and two
transactions appending at once without forking the chain."""

import hashlib
import importlib
import json
import threading
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.db.migrations.exceptions import IrreversibleError

from annotation import services
from annotation.core import audit
from annotation.models import AuditEvent, AuditLogIsAppendOnly

pytestmark = pytest.mark.django_db

POSTGRES_ONLY = pytest.mark.skipif(
    "connection.vendor != 'postgresql'",
    reason="the trigger and the advisory lock are PostgreSQL's; CI runs the suite on it",
)


def _three_entries() -> list[AuditEvent]:
    return [
        services.audit_record(action="test.one", details={"n": 1}),
        services.audit_record(action="test.two", details={"n": 2, "ratio": 0.25}),
        services.audit_record(action="test.three", details={"text": "Grüße"}),
    ]


def _tamper(sql: str, params=()) -> None:
    """Run SQL as a DBA would to get past the trigger (PostgreSQL), or as it is (SQLite)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")


def _verify(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("verify_audit", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _verify_fails(*args: str) -> str:
    with pytest.raises(CommandError) as failed:
        _verify(*args)
    return str(failed.value)


def test_the_hash_is_sha256_of_the_documented_canonical_json():
    entry = {
        "seq": 1,
        "at": datetime(2026, 12, 6, 15, 4, 5, 123456, tzinfo=UTC),
        "actor_id": 7,
        "actor_username": "dr.ng",
        "via": "web",
        "address": "10.0.0.5",
        "action": "study.locked",
        "study_id": 3,
        "study_title": "Résumés",
        "object_type": "study",
        "object_id": "3",
        "details": {"status": {"old": "open", "new": "locked"}},
        "prev_hash": audit.GENESIS_HASH,
    }
    # Written out by hand as docs/audit.md describes it, not with the module's own function.
    text = (
        '{"action":"study.locked","actor_id":7,"actor_username":"dr.ng","address":"10.0.0.5",'
        '"at":"2026-12-06T15:04:05.123456Z","details":{"status":{"new":"locked","old":"open"}},'
        '"object_id":"3","object_type":"study","prev_hash":"' + "0" * 64 + '","seq":1,'
        '"study_id":3,"study_title":"Résumés","via":"web"}'
    )
    assert audit.entry_hash(entry) == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_details_hold_only_types_every_language_reads_alike():
    plain = audit.plain_details({"epsilon": 0.05, "when": datetime(2026, 1, 2, tzinfo=UTC), 3: {1}})
    assert plain == {"epsilon": "0.05", "when": "2026-01-02T00:00:00.000000Z", "3": [1]}


def test_entries_link_and_verify_recomputes_them_from_the_database():
    first, second, third = _three_entries()
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert first.prev_hash == audit.GENESIS_HASH
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    stored = AuditEvent.objects.get(seq=2)
    assert audit.entry_hash(stored.chained()) == stored.hash  # read back, same bytes
    assert stored.details == {"n": 2, "ratio": "0.25"}
    out = _verify()
    assert "Entries checked: 3" in out
    assert f"Head: seq 3, hash {third.hash}" in out
    assert "intact" in out


def test_verify_names_a_changed_entry():
    _three_entries()
    _tamper("UPDATE annotation_auditevent SET actor_username = %s WHERE seq = 2", ["someone-else"])
    message = _verify_fails()
    assert "entry 2" in message


def test_verify_names_a_changed_detail_even_with_its_hash_recomputed_by_the_tamperer():
    _three_entries()
    changed = AuditEvent.objects.get(seq=2).chained()
    changed["details"] = {"n": 99, "ratio": "0.25"}
    # A tamperer who recomputes the changed entry's hash still breaks the next entry's link.
    _tamper(
        "UPDATE annotation_auditevent SET details = %s, hash = %s WHERE seq = 2",
        [json.dumps(changed["details"]), audit.entry_hash(changed)],
    )
    assert "broken at entry 3" in _verify_fails()


def test_verify_names_a_deleted_middle_entry():
    _three_entries()
    _tamper("DELETE FROM annotation_auditevent WHERE seq = 2")
    message = _verify_fails()
    assert "broken at entry 3" in message


def test_verify_names_reordered_entries():
    _three_entries()
    _tamper("UPDATE annotation_auditevent SET seq = 100 WHERE seq = 2")
    _tamper("UPDATE annotation_auditevent SET seq = 2 WHERE seq = 3")
    _tamper("UPDATE annotation_auditevent SET seq = 3 WHERE seq = 100")
    assert "broken at entry 2" in _verify_fails()


def test_verify_names_a_changed_prev_hash():
    _three_entries()
    _tamper("UPDATE annotation_auditevent SET prev_hash = %s WHERE seq = 3", ["f" * 64])
    assert "broken at entry 3" in _verify_fails()


def test_deleting_the_newest_entries_is_caught_only_with_a_recorded_head():
    _, second, third = _three_entries()
    _verify("--expect-head", second.hash)  # an earlier head, still in the chain: fine
    _tamper("DELETE FROM annotation_auditevent WHERE seq = 3")
    assert "intact" in _verify()  # what the chain alone cannot see
    message = _verify_fails("--expect-head", third.hash)
    assert "not in the chain" in message


def test_verify_from_an_entry_links_it_to_the_one_before():
    _three_entries()
    assert "Entries checked: 2 (from seq 2)" in _verify("--since", "2")
    _tamper("UPDATE annotation_auditevent SET prev_hash = %s WHERE seq = 2", ["e" * 64])
    assert "broken at entry 2" in _verify_fails("--since", "2")


def test_verify_refuses_a_malformed_head():
    assert "64 hex digits" in _verify_fails("--expect-head", "abc")


def test_the_orm_refuses_to_change_or_delete_an_entry():
    event = services.audit_record(action="test.one")
    event.action = "test.other"
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(action="test.other")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get().action == "test.one"


@POSTGRES_ONLY
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE annotation_auditevent SET action = 'x'",
        "DELETE FROM annotation_auditevent",
        "TRUNCATE annotation_auditevent",
    ],
)
def test_postgresql_refuses_update_delete_and_truncate(sql):
    services.audit_record(action="test.one")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert AuditEvent.objects.get().action == "test.one"


@POSTGRES_ONLY
def test_no_session_setting_lets_truncate_through():
    # Any session can set a custom variable; the trigger must not trust one.
    services.audit_record(action="test.one")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL evalapp.audit_flush = 'on'")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute("TRUNCATE annotation_auditevent")
    assert AuditEvent.objects.count() == 1


def _unapply_audit_migration() -> None:
    """What `migrate annotation 0047` runs first, before it drops the table."""
    migration = importlib.import_module("annotation.migrations.0048_audit_trail")
    migration.allow_changes(None, SimpleNamespace(connection=connection, execute=_execute))


def _execute(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


def test_unapplying_the_migration_refuses_to_drop_a_log_with_entries(monkeypatch):
    monkeypatch.delenv("AUDIT_LOG_DROP_ON_ROLLBACK", raising=False)
    services.audit_record(action="test.one")
    with pytest.raises(IrreversibleError) as refused:
        _unapply_audit_migration()
    assert "annotation_auditevent" in str(refused.value)
    assert "AUDIT_LOG_DROP_ON_ROLLBACK=1" in str(refused.value)
    assert AuditEvent.objects.count() == 1


def test_unapplying_the_migration_drops_the_log_when_the_operator_says_so(monkeypatch):
    services.audit_record(action="test.one")
    monkeypatch.setenv("AUDIT_LOG_DROP_ON_ROLLBACK", "1")
    _unapply_audit_migration()  # the test's transaction puts the triggers back


def test_unapplying_the_migration_with_an_empty_log_needs_no_flag(monkeypatch):
    monkeypatch.delenv("AUDIT_LOG_DROP_ON_ROLLBACK", raising=False)
    _unapply_audit_migration()


def test_an_entry_rolls_back_with_the_action_it_describes():
    services.audit_record(action="test.kept")

    def fails_after_recording() -> None:
        with transaction.atomic():
            services.audit_record(action="test.undone")
            raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError):
        fails_after_recording()
    after = services.audit_record(action="test.next")
    assert list(AuditEvent.objects.order_by("seq").values_list("action", "seq")) == [
        ("test.kept", 1),
        ("test.next", 2),
    ]
    assert after.seq == 2  # no gap where the rolled-back entry was
    assert "intact" in _verify()


@POSTGRES_ONLY
@pytest.mark.django_db(transaction=True)
def test_two_transactions_appending_at_once_do_not_fork_the_chain():
    services.audit_record(action="test.first")
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def append(name: str) -> None:
        try:
            with transaction.atomic():
                start.wait(timeout=10)
                for number in range(10):
                    services.audit_record(action=f"test.{name}", details={"n": number})
        except BaseException as exc:  # noqa: BLE001 - reported below, on the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 22))
    assert "Entries checked: 21" in _verify()


@pytest.mark.parametrize("debug", [False, True])
def test_a_flushable_audit_log_is_warned_about_where_it_matters(settings, debug):
    settings.DEBUG = debug
    settings.AUDIT_LOG_FLUSHABLE = True

    def warned(deploy: bool) -> bool:
        messages = run_checks(include_deployment_checks=deploy)
        return [m.id for m in messages].count("annotation.W002") == 1

    assert warned(deploy=True)  # check --deploy, once, whatever DEBUG says
    assert warned(deploy=False) is (not debug)  # every start of a site with DEBUG off
    settings.AUDIT_LOG_FLUSHABLE = False
    assert not warned(deploy=True)
