"""A mail server that stalls cannot hold the reminders' worker for good: every SMTP step times
out (EMAIL_TIMEOUT), the beat's task is time-limited, and an e-mail left "sending" is taken over
only after that task would have been killed."""

import os
import socket
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core import mail
from django.utils import timezone

from annotation import services, tasks
from annotation.models import Notification
from annotation.services import notifications
from tests.notifications_support import make_idle

ROOT = Path(__file__).resolve().parent.parent

SEND_ONE = """
import django, types
django.setup()
from annotation.services.notifications import Mail, _send
print("RESULT", _send(types.SimpleNamespace(pk=1, email="r@example.org"), Mail("s", "b")))
"""


def _settings_process(code: str, timeout: float, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "evalapp.settings", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_mail_server_that_never_answers_fails_the_send_after_email_timeout():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    held = []
    threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True).start()
    try:
        done = _settings_process(
            SEND_ONE,
            timeout=30,
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(server.getsockname()[1]),
            EMAIL_TIMEOUT="1",
        )
    finally:
        for connection in held:
            connection.close()
        server.close()
    assert done.returncode == 0, done.stderr
    assert "RESULT The mail server could not be reached" in done.stdout


def test_email_timeout_defaults_to_30_seconds_and_a_bad_value_is_refused():
    assert settings.EMAIL_TIMEOUT == 30
    for bad in ("abc", "0", "-1", "61"):
        done = _settings_process("import evalapp.settings", timeout=60, EMAIL_TIMEOUT=bad)
        assert done.returncode != 0
        assert f"ImproperlyConfigured: EMAIL_TIMEOUT={bad}" in done.stderr or (
            f"EMAIL_TIMEOUT={bad!r} is not a number" in done.stderr
        ), done.stderr


def test_the_beat_task_is_time_limited_and_the_lease_outlasts_it():
    assert (
        tasks.notifications_send.soft_time_limit == settings.NOTIFICATIONS_SOFT_TIME_LIMIT_SECONDS
    )
    assert tasks.notifications_send.time_limit > tasks.notifications_send.soft_time_limit
    assert timedelta(seconds=tasks.notifications_send.time_limit) < notifications.SENDING_LEASE
    # Each SMTP step fits many times into one beat.
    assert settings.EMAIL_TIMEOUT * 5 < settings.NOTIFICATIONS_SOFT_TIME_LIMIT_SECONDS


@pytest.mark.django_db
def test_a_beat_out_of_time_stops_records_the_send_and_the_next_beat_sends_it(
    open_study, raters, caplog
):
    make_idle(open_study, raters)
    with mock.patch.object(notifications, "send_mail", side_effect=SoftTimeLimitExceeded()):
        tasks.notifications_send()  # the task stops quietly: no exception, a warning
    assert "stopped after 600 s" in caplog.text
    # The send under way when time ran out is recorded as failed; the beat went no further.
    note = Notification.objects.get()
    assert (note.status, note.error) == (
        "failed",
        "The mail server took too long; tried again at the next check.",
    )
    assert mail.outbox == []
    tally = services.notifications_send_due(now=timezone.now())
    assert (tally.sent, tally.failed) == (3, 0)
    assert Notification.objects.get(pk=note.pk).attempts == 2
