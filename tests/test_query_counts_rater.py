"""How many statements a rater's save and item page send to the database, transaction control
included (BEGIN, COMMIT, ROLLBACK, savepoints), pinned so that a regression fails without timing
anything. Transactional tests: the view's transaction is a real one, not a savepoint inside the
test's."""

import os
import time
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from annotation import selectors, services
from annotation.models import Assignment, Rating, RatingRevision
from tests.factories import PASSWORD
from tests.support.worker import ON_CI
from tests.test_sets import _study

pytestmark = pytest.mark.django_db(transaction=True)

HX = {"HX-Request": "true"}
POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
# A save: the session, the user, BEGIN, the assignment read and locked with all the save needs,
# one statement for the time, the answer and its revision, COMMIT. SQLite keeps the ORM's
# statements (time, rating read, rating write, revision) where PostgreSQL has one.
SAVE_MAX = 6 if POSTGRES else 9
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/7")


@contextmanager
def statements():
    """Every statement the connection sends, with BEGIN, COMMIT and ROLLBACK, which Django sends
    outside the cursor (psycopg sends BEGIN before a transaction's first statement)."""
    sent: list[str] = []

    def record(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    calls = {name: getattr(connection, name) for name in ("commit", "rollback", "set_autocommit")}

    def set_autocommit(autocommit, *args, **kwargs):
        if not autocommit and connection.vendor != "sqlite":  # SQLite's goes by the cursor
            sent.append("BEGIN")
        return calls["set_autocommit"](autocommit, *args, **kwargs)

    def commit():
        sent.append("COMMIT")
        return calls["commit"]()

    def rollback():
        sent.append("ROLLBACK")
        return calls["rollback"]()

    connection.set_autocommit, connection.commit, connection.rollback = (
        set_autocommit,
        commit,
        rollback,
    )
    try:
        with connection.execute_wrapper(record):
            yield sent
    finally:
        if os.environ.get("COUNTS_PRINT"):
            print("\nCOUNT", len(sent), [x[:60] for x in sent])
        for name, call in calls.items():
            setattr(connection, name, call)


def _touches(sent: list[str], table: str) -> list[str]:
    return [sql for sql in sent if f'"{table}"' in sql or f" {table} " in sql]


@pytest.fixture
def first(open_study, rater) -> Assignment:
    return open_study.assignments.filter(rater=rater).order_by("position").first()


@pytest.fixture
def url(open_study, first) -> str:
    return reverse("rater_item", args=[open_study.token, first.token])


def _save(client, url: str, answer: str, elapsed: str = "1500"):
    with statements() as sent:
        response = client.post(
            url, {"question": "overall", "answer": answer, "elapsed_ms": elapsed}, headers=HX
        )
    assert response.status_code == 200
    assert not [sql for sql in sent if "SAVEPOINT" in sql]
    return response, sent


def test_a_first_answer_takes_at_most_six_statements(rater_client, url, first):
    response, sent = _save(rater_client, url, "4")
    assert len(sent) <= SAVE_MAX, sent
    assert sent[-1] == "COMMIT"
    assert response["X-Answer-Saved"]
    rating = Rating.objects.get(assignment=first)
    assert rating.answer == 4
    assert response["X-Answer-Saved"] == rating.updated_at.isoformat()
    assert RatingRevision.objects.filter(rating=rating).count() == 1
    first.refresh_from_db()
    assert first.time_on_task_ms == 1500
    assert "Saved" in response.text
    assert "rated" not in response.text  # no progress bar: a save submits nothing


def test_a_changed_answer_takes_as_many_and_appends_a_revision(rater_client, url, first):
    _save(rater_client, url, "4")
    response, sent = _save(rater_client, url, "2")
    assert len(sent) <= SAVE_MAX, sent
    rating = Rating.objects.get(assignment=first)
    assert rating.answer == 2
    assert response["X-Answer-Saved"] == rating.updated_at.isoformat()
    assert list(rating.revisions.values_list("answer", flat=True)) == [4, 2]


def test_the_same_answer_again_adds_no_revision_and_keeps_its_revision(rater_client, url, first):
    saved, _ = _save(rater_client, url, "4")
    response, sent = _save(rater_client, url, "4")
    assert len(sent) <= SAVE_MAX, sent
    assert response["X-Answer-Saved"] == saved["X-Answer-Saved"]
    assert RatingRevision.objects.filter(rating__assignment=first).count() == 1
    first.refresh_from_db()
    assert first.time_on_task_ms == 3000


def test_a_refused_answer_keeps_the_time_in_as_few(rater_client, url, first):
    response, sent = _save(rater_client, url, "9")
    assert len(sent) <= 6, sent
    assert response["X-Answer-Refused"] == "1"
    assert "X-Answer-Saved" not in response
    assert not Rating.objects.exists()
    first.refresh_from_db()
    assert first.time_on_task_ms == 1500


def test_the_save_locks_and_reads_once_then_writes(rater_client, url):
    _, sent = _save(rater_client, url, "4")
    work = [sql for sql in sent if "annotation_" in sql]
    assert "FOR UPDATE" in work[0] or connection.vendor == "sqlite"  # SQLite locks the file
    assert work[0].startswith("SELECT")
    assert ' FROM "annotation_assignment" a ' in work[0]
    assert not [sql for sql in work[1:] if sql.startswith("SELECT") and "assignment_id" not in sql]
    if POSTGRES:  # the time, the rating and its revision in one statement
        assert len(work) == 2, work
        assert work[1].startswith("WITH spent AS (UPDATE")


def test_the_item_page_takes_at_most_six_statements(rater_client, url, first):
    rater_client.get(url)  # the first visit also notes when the item was opened
    with statements() as sent:
        response = rater_client.get(url)
    assert response.status_code == 200
    assert "Item 1 of 4" in response.text
    # Session, user, assignment, progress, answers with their revisions, questions: no
    # transaction. Before: 7, the answers read twice.
    assert len(sent) <= 6, sent


def test_a_submit_that_goes_on_to_the_next_item_takes_no_more_than_before(
    rater_client, open_study, first, url
):
    rater_client.post(url, {"question": "overall", "answer": "4"})
    submit = reverse("rater_submit", args=[open_study.token, first.token])
    with statements() as sent:
        response = rater_client.post(submit, {"elapsed_ms": "100"})
    assert response.status_code == 302
    second = open_study.assignments.get(rater=first.rater, position=2)
    assert response.url == reverse("rater_item", args=[open_study.token, second.token])
    # Its work, and the statistics' recomputation queued once it commits (a TaskRun): 17.
    # Without a shared cache (`make test`: SQLite, no Redis) the session and the user are read
    # from the database too.
    assert len(sent) <= (17 if settings.SHARED_CACHE else 19), sent


def test_resuming_goes_to_the_next_item_in_four_statements(rater_client, open_study, first):
    with statements() as sent:
        response = rater_client.get(reverse("rater_resume", args=[open_study.token]))
    assert response.url == reverse("rater_item", args=[open_study.token, first.token])
    assert len(sent) <= 4, sent


@pytest.fixture
def redis_cache():
    """The settings of a deployment with Redis: sessions and users read from it. Its own
    database and key prefix, removed afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.ConnectionError:
        if ON_CI:
            raise
        pytest.skip(f"no Redis at {REDIS_URL}: these check sessions served from it (CI has one)")
    prefix = f"test-query-counts-{os.getpid()}-{time.monotonic_ns()}"
    with _redis_sessions(REDIS_URL, prefix):
        yield client, prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


@contextmanager
def _redis_sessions(location, prefix):
    """The settings a shared Redis cache gives (evalapp/settings.py), at `location`."""
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": prefix,
        },
        "sessions": {
            "BACKEND": "evalapp.cache.OutageTolerantRedisCache",
            "LOCATION": location,
            "KEY_PREFIX": f"{prefix}-sessions",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        },
    }
    with override_settings(
        CACHES=caches,
        SESSION_ENGINE="evalapp.sessions",
        SESSION_CACHE_ALIAS="sessions",
        SESSION_CACHE_SECONDS=300,
        USER_CACHE_SECONDS=60,
    ):
        yield


def test_with_redis_away_sessions_and_users_come_from_the_database(client, rater, url, first):
    """Nothing listens on port 1: every cache read is a miss and every write is skipped, and
    signing in, saving and signing out work as without Redis."""
    with _redis_sessions("redis://127.0.0.1:1/0", "unreachable"):
        signed_in = client.post(
            reverse("login"), {"username": rater.username, "password": PASSWORD}
        )
        assert signed_in.status_code == 302
        response, sent = _save(client, url, "4")
        assert response["X-Answer-Saved"]
        assert _touches(sent, "django_session"), sent
        assert _touches(sent, "auth_user"), sent
        rater.set_password("another long passphrase 2")
        rater.save()  # forgetting the cached user cannot fail either
        signed_out = client.post(url, {"question": "overall", "answer": "3"}, headers=HX)
        assert signed_out.status_code == 401
    assert Rating.objects.get(assignment=first).answer == 4


def test_with_redis_a_save_reads_neither_session_nor_user_from_the_database(
    redis_cache, client, rater, url, first
):
    client.force_login(rater)
    _save(client, url, "3")  # the first request caches the user
    response, sent = _save(client, url, "4")
    assert not _touches(sent, "django_session"), sent
    assert not _touches(sent, "auth_user"), sent
    assert len(sent) <= SAVE_MAX - 2, sent
    assert Rating.objects.get(assignment=first).answer == 4


def test_with_redis_a_password_change_ends_other_sessions_at_once(redis_cache, client, rater, url):
    client.force_login(rater)
    assert client.get(url).status_code == 200  # the user is cached now
    rater.set_password("another long passphrase 7")
    rater.save()
    response = client.post(url, {"question": "overall", "answer": "4"}, headers=HX)
    assert response.status_code == 401
    assert not Rating.objects.exists()


def test_with_redis_a_deactivated_rater_is_signed_out_at_once(redis_cache, client, rater, url):
    client.force_login(rater)
    assert client.get(url).status_code == 200
    rater.is_active = False
    rater.save(update_fields=["is_active"])
    assert client.post(url, {"question": "overall", "answer": "4"}, headers=HX).status_code == 401


def test_with_redis_logging_out_ends_the_session(redis_cache, client, rater, url):
    client.force_login(rater)
    assert client.get(url).status_code == 200
    cookie = client.cookies["sessionid"].value
    client.post(reverse("logout"))
    client.cookies["sessionid"] = cookie  # the old cookie, replayed
    assert client.post(url, {"question": "overall", "answer": "4"}, headers=HX).status_code == 401


def test_with_redis_a_sign_out_that_cannot_remove_the_cached_session_fails_loudly(
    redis_cache, client, rater, url, monkeypatch
):
    """A Redis that times out on the delete: the sign-out is an error, not a sign-out that
    leaves the old cookie working from the cache."""
    from django.core.cache import caches
    from redis.exceptions import TimeoutError as RedisTimeout

    client.force_login(rater)
    assert client.get(url).status_code == 200
    cache = caches["sessions"]

    def times_out(*args, **kwargs):
        raise RedisTimeout("Timeout reading from socket")

    monkeypatch.setattr(cache, "delete", times_out)
    with pytest.raises(RedisTimeout):
        client.post(reverse("logout"))


def test_with_redis_a_cached_session_lives_minutes_not_the_sessions_age(
    redis_cache, client, rater, url
):
    redis_client, prefix = redis_cache
    client.force_login(rater)
    assert client.get(url).status_code == 200
    keys = list(redis_client.scan_iter(f"{prefix}-sessions*"))
    assert keys
    assert all(0 < redis_client.ttl(key) <= 300 for key in keys)


def test_the_item_page_names_each_answers_revision_as_the_answers_endpoint_does(
    study_admin, raters
):
    study = _study(study_admin, raters, design="side_by_side")
    assignment = study.assignments.filter(rater=raters[0]).order_by("position").first()
    services.rating_save(
        assignment=assignment, question=study.questions.get(key="overall"), answer=4, shown=1
    )
    services.rating_save(
        assignment=assignment,
        question=study.questions.get(key="rank"),
        answer=list(range(1, len(assignment.shown_outputs()) + 1)),
    )
    _, revisions = selectors.rater_item_page(assignment=assignment)
    answers = selectors.rater_answers(assignment=assignment)
    assert revisions == {form_id: answer.revision for form_id, answer in answers.items()}
    assert set(revisions) == {"overall-B", "rank"}


def test_a_side_by_side_save_adds_only_the_read_of_the_items_outputs(client, study_admin, raters):
    study = _study(study_admin, raters, design="side_by_side")
    assignment = study.assignments.filter(rater=raters[0]).order_by("position").first()
    client.force_login(raters[0])
    url = reverse("rater_item", args=[study.token, assignment.token])
    with statements() as sent:
        response = client.post(
            url, {"question": "overall", "answer": "4", "about": "B"}, headers=HX
        )
    assert response["X-Answer-Saved"]
    assert Rating.objects.get(assignment=assignment).output == assignment.shown_outputs()[1]
    assert len(sent) <= SAVE_MAX + 1, sent


def test_only_a_change_after_submit_asks_for_the_statistics(
    rater_client, open_study, first, url, monkeypatch
):
    asked = []
    monkeypatch.setattr(
        "annotation.services.rating.statistics_recompute_soon",
        lambda *, study: asked.append(study.pk),
    )
    _save(rater_client, url, "4")
    assert asked == []  # not submitted yet: nothing queued on the hot path
    Assignment.objects.filter(pk=first.pk).update(submitted_at=first.study.opened_at)
    _save(rater_client, url, "4")
    assert asked == []  # the same answer: nothing changed
    _save(rater_client, url, "2")
    assert asked == [open_study.pk]
