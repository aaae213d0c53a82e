"""Failed calls stored before errors were put in generic words (1e76540).

Until then a failed call's record kept the HTTP client's own text: "ConnectionError:
HTTPConnectionPool(host='10.0.0.5', port=5432): ... [Errno 111] Connection refused" in a
generation's or a verdict's error, and the repr of each retried attempt's exception in
`retries` (a judge's `attempts` copy the error). Study admins read these, and they say which
internal hosts and ports answer. A queued run whose task could not be sent kept the broker's
error (its host and port) in its message, and a call not sent for a Redis outage kept Redis's.

This rewrites that text in the words the code now stores. The words and the way an error is
sorted into them are copied from annotation.llm (NOT_ALLOWED..., `_describe`) and
annotation.limits as they are at this migration, not imported: a migration must do the same
thing whatever those modules become. Anything else (HTTP statuses, malformed replies, prompt
template problems, the generic words themselves) is left as it is. The old text is not kept.
"""

import re

from django.db import migrations

# annotation.llm, as at this migration.
REDIRECTED = "the endpoint redirected; redirects are not followed"
NO_CONNECTION = "could not connect to the endpoint"
NO_ANSWER = "the endpoint did not answer in time"
CALL_FAILED = "the call to the endpoint failed"
GENERIC = {
    REDIRECTED,
    NO_CONNECTION,
    NO_ANSWER,
    CALL_FAILED,
    "the endpoint's address is not allowed",
}
# annotation.limits and annotation.services.generation, as at this migration.
REDIS_AWAY = "Redis unreachable for the limits: "
REDIS_AWAY_NOW = REDIS_AWAY + "the call was not sent"
UNSENT = re.compile(r"^Waiting for the task queue to come back \(.*\)\.$", re.S)
UNSENT_NOW = "Waiting for the task queue to come back."

# The exceptions of `requests`: a stored error was f"{type(exc).__name__}: {exc}" of one.
REQUESTS_ERROR = re.compile(
    r"^(RequestException|ConnectionError|ConnectTimeout|ReadTimeout|Timeout|SSLError|ProxyError"
    r"|TooManyRedirects|ChunkedEncodingError|ContentDecodingError|RetryError|HTTPError"
    r"|InvalidURL|InvalidSchema|MissingSchema|InvalidHeader|InvalidProxyURL|URLRequired"
    r"|InvalidJSONError|StreamConsumedError|UnrewindableBodyError): ",
    re.S,
)
# urllib3's connection failures (NameResolutionError is a NewConnectionError, which is a
# ConnectTimeoutError); a read timeout is the endpoint not answering.
CONNECT_FAILED = ("NewConnectionError", "ConnectTimeoutError", "NameResolutionError")
READ_TIMED_OUT = ("ReadTimeoutError", "Read timed out", "TimeoutError")


def _kind(text: str) -> str:
    """The generic words for an old error's text, as llm._describe sorts the exception."""
    if any(name in text for name in CONNECT_FAILED):
        return NO_CONNECTION
    if any(name in text for name in READ_TIMED_OUT):
        return NO_ANSWER
    return ""


def call_error(text: str) -> str:
    """A call's error as the code stores it now."""
    match = REQUESTS_ERROR.match(text)
    if match:
        name = match.group(1)
        if name == "TooManyRedirects":
            return REDIRECTED
        if name == "ConnectTimeout":
            return NO_CONNECTION
        if name in ("ReadTimeout", "Timeout"):
            return NO_ANSWER
        # Every requests exception is an OSError: llm._describe calls the rest no connection.
        return _kind(text) or NO_CONNECTION
    if text.startswith(REDIS_AWAY):
        return REDIS_AWAY_NOW
    return text


def attempt_error(text: str) -> str:
    """A retried attempt's error: it was only ever the repr of urllib3's exception, or now
    generic words; an old one names its exception first."""
    if not text or text in GENERIC:
        return text
    if REQUESTS_ERROR.match(text) or text.startswith(REDIS_AWAY):
        return call_error(text)
    if text.startswith("ProtocolError("):
        return NO_CONNECTION
    return _kind(text) or CALL_FAILED


def _entries(entries, rewrite):
    if not isinstance(entries, list):
        return entries
    return [
        {**entry, "error": rewrite(entry["error"])}
        if isinstance(entry, dict) and isinstance(entry.get("error"), str)
        else entry
        for entry in entries
    ]


def _rewrite(model, list_field: str, list_rewrite) -> None:
    rows = model.objects.values_list("pk", "error", list_field).iterator(chunk_size=2000)
    changed = []  # read all first: no update while the rows are still being read
    for pk, error, entries in rows:
        new = call_error(error), _entries(entries, list_rewrite)
        if new != (error, entries):
            changed.append((pk, *new))
    for pk, error, entries in changed:
        model.objects.filter(pk=pk).update(error=error, **{list_field: entries})


def forwards(apps, schema_editor):
    _rewrite(apps.get_model("annotation", "Generation"), "retries", attempt_error)
    # A judge's attempts hold each call's error as stored (call_error), or a malformed reply.
    _rewrite(apps.get_model("annotation", "JudgeVerdict"), "attempts", call_error)
    TaskRun = apps.get_model("annotation", "TaskRun")
    waiting = TaskRun.objects.filter(
        message__startswith="Waiting for the task queue to come back ("
    )
    for pk, message in waiting.values_list("pk", "message"):
        if UNSENT.match(message):
            TaskRun.objects.filter(pk=pk).update(message=UNSENT_NOW)


class Migration(migrations.Migration):
    dependencies = [("annotation", "0030_import_uploads")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
