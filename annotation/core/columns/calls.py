"""Every stored model call's provenance: generations.csv and judge_calls.csv."""

from annotation.core.columns.schema import DATETIME, INTEGER, NUMBER, STRING, Column, Table, _column

# How `prompt_sha256` is computed, for anyone checking it against a request of their own.
PROMPT_HASH = (
    "the SHA-256 (hex) of the request's `messages` as stored (an image as its "
    '`sha256:<hex>` reference) in JSON with sorted keys, no spaces (`separators=(",", ":")`) '
    "and UTF-8 unescaped (`ensure_ascii=False`): equal hashes mean the model was sent the same "
    "prompt; empty when no request was sent"
)


CALL_OUTCOMES = ("ok", "failed")


def _call_columns(*, retries: str, retry_details: str) -> tuple[Column, ...]:
    """What every stored model call records, a generation's or a judge's."""
    return (
        _column("outcome", STRING, "`ok`, or `failed` (see `error`)", CALL_OUTCOMES),
        _column("error", STRING, "why the call failed, in generic words; empty when it did not"),
        _column(
            "model_requested",
            STRING,
            "the model the request asked for (`model` in the request: a name or an alias)",
        ),
        _column(
            "model_version",
            STRING,
            "the model the server says it served (`model` in its reply); empty when it said none",
        ),
        _column(
            "served_headers",
            STRING,
            "the reply's headers that name the deployment behind an alias (`openai-model`, "
            "`x-litellm-model-name`...), as a JSON object with lower-case names; `{}` for none",
        ),
        _column("response_id", STRING, "the reply's `id`, as the server gave it"),
        _column("system_fingerprint", STRING, "the reply's `system_fingerprint`, if any"),
        _column("http_status", INTEGER, "the HTTP status of the last attempt; empty for none"),
        _column("retries", INTEGER, retries),
        _column("retry_details", STRING, retry_details),
        _column(
            "rate_limit_wait_seconds",
            NUMBER,
            "seconds waited after 429 and 503 answers before trying again",
        ),
        _column(
            "prompt_tokens", INTEGER, "prompt tokens, as the server counted them; empty if not"
        ),
        _column(
            "completion_tokens",
            INTEGER,
            "completion tokens, as the server counted them; empty if not",
        ),
        _column(
            "cost",
            NUMBER,
            "the tokens at the prices per million tokens set for the caller; empty without "
            "prices or token counts",
        ),
        _column("latency_seconds", NUMBER, "seconds from the request to the whole reply"),
        _column("prompt_sha256", STRING, PROMPT_HASH),
        _column("started_at", DATETIME, "when the call started (UTC)"),
        _column("finished_at", DATETIME, "when it finished (UTC)"),
    )


GENERATIONS = Table(
    "generations.csv",
    "Model calls for outputs",
    "One row per call made to fetch a source's output for a case, failed ones included: how "
    "each output was produced (only in a study whose outputs a worker fetched; imported "
    "outputs have no call).",
    (
        _column("case_id", STRING, "the case's id, as in unblinding.csv"),
        _column("source", STRING, "the source's label, as in unblinding.csv"),
        _column(
            "sample",
            INTEGER,
            "which of the source's samples for the case (raters see sample 0)",
        ),
        _column(
            "endpoint",
            STRING,
            "the URL called (never a key: keys belong to the operator's connections)",
        ),
        *_call_columns(
            retries="attempts the HTTP client made before the one that counted (after a "
            "timeout, a 429 or a 5xx answer)",
            retry_details="those attempts as a JSON list of objects, each with its HTTP status "
            "or error (and the wait after a rate limit); `[]` for none",
        ),
    ),
)


JUDGE_CALLS = Table(
    "judge_calls.csv",
    "LLM judge calls",
    "One row per unit of an LLM judge's work (an item, in one order shown, one sample; or, "
    "in an assisted-reading study, a reader's answer decided), failed ones included, with the "
    "provenance of its last call; the judge's answers are in the API's judge-ratings table and "
    "its decisions on answers in judge_scores.csv (only in a study with judges).",
    (
        _column("judge", STRING, "the judge's label"),
        _column(
            "kind",
            STRING,
            "`rating`: an item rated with the rubric; `answer`: a reader's answer decided "
            "(assisted reading)",
        ),
        _column(
            "item_token",
            STRING,
            "the judged item, as in ratings.csv and unblinding.csv (for an answer, its read's "
            "item, which the case's other reads may share)",
        ),
        _column(
            "shown_order",
            STRING,
            "the canonical slots in the order the judge was shown them, space-separated "
            "(`1 0`: a pair shown the other way round); empty for an answer",
        ),
        _column(
            "variant",
            INTEGER,
            "which of the judge's orders this is (0 = canonical; 0 for an answer)",
        ),
        _column("sample", INTEGER, "which of the judge's samples for this order (0 for an answer)"),
        *_call_columns(
            retries="calls made for this unit before its last one (a malformed reply is asked "
            "again); the tokens, cost and waits add up over every call. The HTTP client's own "
            "retries within a call are not recorded for judges",
            retry_details="every call made for this unit, the last included, as a JSON list of "
            '`{"error", "http_status"}` (`error` empty for a reply that parsed)',
        ),
    ),
)
