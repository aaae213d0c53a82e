"""The reminders as deployed: a real Celery worker with an embedded beat sends a stalled
rater's reminder through Django's file e-mail backend, with nobody clicking anything."""

import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Membership, Notification, Study
from tests.conftest import _worker_database_url
from tests.support.worker import start_worker, stop_worker

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for_mail(folder, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in folder.iterdir():
            text = path.read_text()
            if text.strip():
                return text
        time.sleep(0.5)
    raise AssertionError(f"no e-mail in {folder} after {timeout:.0f} s")


def test_the_beat_sends_a_stalled_raters_reminder(open_study, raters, tmp_path):
    raters[0].email = "rater1@example.org"
    raters[0].save(update_fields=["email"])
    # The other raters are not stalled: only one e-mail is expected.
    Membership.objects.filter(study=open_study).exclude(user=raters[0]).update(
        joined_at=timezone.now()
    )
    Membership.objects.filter(study=open_study, user=raters[0]).update(
        joined_at=timezone.now() - timedelta(days=10)
    )
    Study.objects.filter(pk=open_study.pk).update(opened_at=timezone.now() - timedelta(days=10))
    outbox = tmp_path / "mail"
    outbox.mkdir()
    queue = f"evalapp-beat-{uuid.uuid4().hex[:8]}"
    env = {
        "DATABASE_URL": _worker_database_url(),
        # A broker of the test's own: the beat's messages reach this worker and no other.
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_BROKER_DIR": str(tmp_path / "broker"),
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "NOTIFICATIONS_BEAT_SECONDS": "1",
        "SITE_URL": "https://evalapp.example.org",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(outbox),
    }
    schedule = ("-B", "-s", str(tmp_path / "celerybeat-schedule"))
    worker = start_worker(env, tmp_path / "worker.log", queue, extra_args=schedule)
    try:
        text = wait_for_mail(outbox)
    finally:
        stop_worker(worker)
    assert "To: rater1@example.org" in text
    assert f"https://evalapp.example.org/rate/{open_study.token}/" in text
    note = Notification.objects.get()
    assert (note.recipient, note.kind, note.status) == (raters[0], "stalled", "sent")
