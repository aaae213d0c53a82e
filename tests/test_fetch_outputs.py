"""Generating outputs over real HTTP against the local fake endpoint, with injected faults."""

import re
import time

import pytest

from annotation import services
from annotation.models import Connection, Generation, Output, TaskRun
from tests.support.fake_llm import Delay, Drop, Malformed, Reply, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def model_source(draft_study, fake_llm, monkeypatch):
    monkeypatch.setenv("EVALAPP_LLM_KEY_TEST", "sk-test-123")
    fake_llm.require_key("sk-test-123")
    connection = Connection.objects.create(
        name="test",
        base_url=fake_llm.base_url,
        allowed_models=["echo-70b"],
        api_key_env="EVALAPP_LLM_KEY_TEST",
    )
    return services.source_create(
        study=draft_study,
        label="Echo-70B",
        connection=connection,
        model_name="echo-70b",
        temperature=0.2,
        max_tokens=64,
        system_prompt="Summarise.",
        max_concurrency=1,  # one call at a time: each scripted fault meets a known case
    )


def run_fetch(source, user) -> TaskRun:
    run = TaskRun.objects.create(
        study=source.study, source=source, created_by=user, kind=TaskRun.Kind.FETCH_OUTPUTS
    )
    run = services.task_run_claim(run_id=run.pk)
    services.outputs_fetch_missing(run=run)
    run.refresh_from_db()
    return run


def test_fetch_generates_every_missing_output_and_records_the_call(
    model_source, fake_llm, study_admin
):
    run = run_fetch(model_source, study_admin)
    assert (run.status, run.done, run.total) == ("succeeded", 3, 3)
    output = Output.objects.get(source=model_source, case__external_id="c1")
    assert output.text == "Summary: Patient asks whether a cough is caused by lisinopril."
    generation = output.generation
    assert generation.request == {
        "model": "echo-70b",
        "messages": [
            {"role": "system", "content": "Summarise."},
            {"role": "user", "content": output.case.input_text},
        ],
        "temperature": 0.2,
        "max_tokens": 64,
    }
    assert generation.model_version == "echo-70b-fake-20240101"
    assert generation.http_status == 200
    assert generation.prompt_tokens > 0
    assert generation.completion_tokens > 0
    assert '"chat.completion"' in generation.response_body
    assert fake_llm.requests[0]["headers"]["authorization"] == "Bearer sk-test-123"
    assert "sk-test-123" not in str(generation.request)


def test_fetch_only_asks_for_what_is_missing(model_source, fake_llm, study_admin):
    run_fetch(model_source, study_admin)
    run = run_fetch(model_source, study_admin)
    assert (run.status, run.total) == ("succeeded", 0)
    assert len(fake_llm.requests) == 3
    assert Output.objects.filter(source=model_source).count() == 3


def test_rate_limits_and_server_errors_are_retried(model_source, fake_llm, study_admin):
    fake_llm.enqueue(Status(429, headers={"Retry-After": "0"}), Status(500), Status(503))
    run = run_fetch(model_source, study_admin)
    assert run.status == "succeeded"
    first = Generation.objects.filter(source=model_source).order_by("started_at").first()
    assert [r["status"] for r in first.retries] == [429, 500, 503]
    assert first.outcome == "ok"


def test_a_timeout_is_retried_then_succeeds(model_source, fake_llm, study_admin, settings):
    settings.LLM_REQUEST_TIMEOUT = 0.3
    fake_llm.enqueue(Delay(3))
    run = run_fetch(model_source, study_admin)
    assert run.status == "succeeded"
    assert Output.objects.filter(source=model_source).count() == 3
    errors = {r["error"] for g in Generation.objects.all() for r in g.retries}
    assert "the endpoint did not answer in time" in errors


def test_malformed_bodies_fail_that_case_and_keep_the_rest(model_source, fake_llm, study_admin):
    fake_llm.enqueue(Malformed("{not json"), Malformed('{"id": "x", "choices": []}'))
    run = run_fetch(model_source, study_admin)
    assert run.status == "failed"
    assert "1 of 3 outputs generated; 2 failed" in run.message
    failed = Generation.objects.filter(outcome="failed")
    assert failed.count() == 2
    assert all("malformed response body" in g.error for g in failed)
    assert Output.objects.filter(source=model_source).count() == 1


def test_persistent_errors_and_dropped_connections_store_no_output(
    model_source, fake_llm, study_admin, settings
):
    settings.LLM_MAX_RETRIES = 1
    fake_llm.enqueue(Status(500), Status(500), Drop(), Drop())
    run = run_fetch(model_source, study_admin)
    errors = sorted(g.error for g in Generation.objects.filter(outcome="failed"))
    assert errors == ["HTTP 500", "could not connect to the endpoint"]
    assert run.status == "failed"
    assert Output.objects.filter(source=model_source).count() == 1


def test_untrusted_text_is_stored_verbatim(model_source, fake_llm, study_admin):
    hostile = '<script>alert(1)</script>" onmouseover="alert(2)'
    fake_llm.enqueue(Reply(hostile))
    run_fetch(model_source, study_admin)
    assert Output.objects.filter(source=model_source, text=hostile).exists()


def test_a_source_without_endpoint_fails_clearly(draft_study, study_admin):
    source = draft_study.sources.get(label="MedSumm-7B")
    run = run_fetch(source, study_admin)
    assert run.status == "failed"
    assert "no model endpoint" in run.message


def test_training_and_attention_cases_are_not_sent_to_the_model(
    model_source, fake_llm, study_admin
):
    rows = (
        "case_id,input,source,output,role,expected,feedback\n"
        't1,Train,Writer,Example,training,"{""overall"": 4}",Because.\n'
        'a1,Check,Writer,Rate 1,attention,"{""overall"": 1}",\n'
    )
    services.study_import_file(study=model_source.study, filename="qc.csv", content=rows.encode())
    run = run_fetch(model_source, study_admin)
    assert (run.status, run.total) == ("succeeded", 3)  # the three study cases only
    assert not Output.objects.filter(source=model_source, case__role__in=["training", "attention"])


def test_calls_run_concurrently_up_to_the_sources_limit(draft_study, fake_llm, study_admin):
    rows = "case_id,input\n" + "".join(f"k{i},Question {i}\n" for i in range(24))
    services.study_import_file(study=draft_study, filename="more.csv", content=rows.encode())
    fake_llm.set_default(Delay(0.15))
    source = services.source_create(
        study=draft_study,
        label="Parallel",
        base_url=fake_llm.base_url,
        model_name="echo",
        max_concurrency=6,
    )
    started = time.monotonic()
    run = run_fetch(source, study_admin)
    elapsed = time.monotonic() - started
    assert (run.status, run.done, run.total) == ("succeeded", 27, 27)
    assert fake_llm.max_in_flight == 6  # the limit is reached and never passed
    assert Output.objects.filter(source=source).count() == 27
    # 27 calls of 0.15 s, six at a time, take five rounds: well under the 4 s of one by one.
    assert elapsed < 27 * 0.15 / 2


def test_a_requests_per_minute_quota_spaces_the_calls():
    from annotation.core.limits import RateLimiter

    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(120, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.wait()
    assert slept == [0.5, 0.5, 0.5]  # 120 a minute: one every half second
    assert now[0] == 1.5
    RateLimiter(None, clock=lambda: 0.0, sleep=sleep).wait()
    assert len(slept) == 3


def test_a_queued_fetch_cancelled_never_runs(model_source, study_admin):
    run = TaskRun.objects.create(
        study=model_source.study,
        source=model_source,
        created_by=study_admin,
        kind=TaskRun.Kind.FETCH_OUTPUTS,
    )
    assert services.task_run_cancel(run=run).status == "cancelled"
    assert services.task_run_claim(run_id=run.pk) is None  # a late delivery does nothing


def test_a_running_fetch_stops_when_cancelled_and_keeps_what_it_finished(
    draft_study, fake_llm, study_admin, monkeypatch
):
    from annotation.services import generation

    rows = "case_id,input\n" + "".join(f"k{i},Question {i}\n" for i in range(40))
    services.study_import_file(study=draft_study, filename="more.csv", content=rows.encode())
    fake_llm.set_default(Delay(0.05))
    source = services.source_create(
        study=draft_study, label="P", base_url=fake_llm.base_url, model_name="e", max_concurrency=2
    )
    run = TaskRun.objects.create(
        study=draft_study, source=source, created_by=study_admin, kind="fetch_outputs"
    )
    run = services.task_run_claim(run_id=run.pk)
    monkeypatch.setattr(generation, "PROGRESS_EVERY_SECONDS", 0)

    def cancel_after_five(run):
        # The admin presses Cancel once five outputs are in.
        if Output.objects.filter(source=source).count() >= 5:
            services.task_run_cancel(run=run)
        return generation.TaskRun.objects.filter(
            pk=run.pk, cancel_requested_at__isnull=False
        ).exists()

    monkeypatch.setattr(generation, "cancel_requested", cancel_after_five)
    services.outputs_fetch_missing(run=run)
    run.refresh_from_db()
    outputs = Output.objects.filter(source=source).count()
    assert run.status == "cancelled"
    assert run.message.startswith(f"Cancelled: {outputs} of 43 outputs generated")
    assert 5 <= outputs <= 8  # the two calls in flight when it stopped may finish
    assert len(fake_llm.requests) == outputs  # nothing else was sent
    assert run.done == outputs


def test_the_dashboard_cancels_a_run_and_shows_time_left(client, model_source, study_admin):
    from datetime import timedelta

    from django.urls import reverse
    from django.utils import timezone

    client.force_login(study_admin)
    started = time.monotonic()
    run = TaskRun.objects.create(
        study=model_source.study,
        source=model_source,
        created_by=study_admin,
        kind=TaskRun.Kind.FETCH_OUTPUTS,
        status="running",
        done=10,
        total=40,
        started_at=timezone.now() - timedelta(seconds=20),
        heartbeat_at=timezone.now(),
    )
    url = reverse("study_task_run", args=[model_source.study.token, run.pk])
    page = client.get(url).content.decode()
    took = time.monotonic() - started  # seconds the run's clock ran on before the page
    # 10 of 40 done in 20 s: 30 to go at 2 s each, give or take the test's own time (each
    # second it took adds 3 s to the estimate: 30 to go at (20 + took) / 10 s each).
    left = re.search(r"about (\d+) s left", page)
    assert left is not None
    assert 60 <= int(left.group(1)) <= 61 + 3 * took
    assert "Cancel" in page
    cancel = reverse("study_task_run_cancel", args=[model_source.study.token, run.pk])
    response = client.post(cancel, headers={"HX-Request": "true"})
    assert "Stopping" in response.content.decode()
    run.refresh_from_db()
    assert run.cancel_requested_at is not None


def test_each_sample_is_a_unit_of_its_own_and_raters_see_the_first(
    draft_study, fake_llm, study_admin, client
):
    from django.urls import reverse

    source = services.source_create(
        study=draft_study,
        label="Sampled",
        base_url=fake_llm.base_url,
        model_name="echo",
        temperature=0.9,
        samples_per_case=3,
        max_concurrency=1,
    )
    fake_llm.enqueue(Status(400))  # one unit fails; a rerun does only that one
    run = run_fetch(source, study_admin)
    assert (run.done, run.total) == (9, 9)
    assert Output.objects.filter(source=source).count() == 8
    assert set(Output.objects.filter(source=source).values_list("sample", flat=True)) == {0, 1, 2}
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[draft_study.token])).content.decode()
    assert "Retry 1 failed" in page
    again = run_fetch(source, study_admin)
    assert (again.total, again.status) == (1, "succeeded")
    assert Output.objects.filter(source=source).count() == 9
    assert len(fake_llm.requests) == 10
    # Opening the study makes items of the first samples only.
    from annotation.models import Item

    services.study_open(study=draft_study)
    rated = Item.objects.filter(study=draft_study, output__source=source)
    assert sorted(rated.values_list("output__sample", flat=True)) == [0, 0, 0]


def test_a_fetch_keeps_its_heartbeat_while_every_call_is_still_waiting(
    draft_study, fake_llm, study_admin, monkeypatch
):
    # A slow endpoint must not make a live fetch look dead to a redelivered copy of its task.
    from annotation.services import generation

    fake_llm.set_default(Delay(0.8))
    source = services.source_create(
        study=draft_study, label="Slow", base_url=fake_llm.base_url, model_name="s"
    )
    run = TaskRun.objects.create(study=draft_study, source=source, kind="fetch_outputs")
    run = services.task_run_claim(run_id=run.pk)
    monkeypatch.setattr(generation, "PROGRESS_EVERY_SECONDS", 0.1)
    beats = []
    real = generation.task_run_progress

    def progress(*, run, done, total=None):
        beats.append(done)
        real(run=run, done=done, total=total)

    monkeypatch.setattr(generation, "task_run_progress", progress)
    services.outputs_fetch_missing(run=run)
    # All three calls run at once and take 0.8 s: the run reported in the meantime.
    assert beats.count(0) >= 4
    assert beats[-1] == 3


def test_a_fetch_that_cannot_store_a_result_starts_no_more_calls(
    draft_study, fake_llm, study_admin, monkeypatch
):
    from annotation.services import generation

    rows = "case_id,input\n" + "".join(f"z{i},Question {i}\n" for i in range(30))
    services.study_import_file(study=draft_study, filename="more.csv", content=rows.encode())
    fake_llm.set_default(Delay(0.05))
    source = services.source_create(
        study=draft_study, label="Z", base_url=fake_llm.base_url, model_name="z", max_concurrency=2
    )

    def broken(**_):
        raise RuntimeError("database gone")

    monkeypatch.setattr(generation, "output_record_generation", broken)
    run = TaskRun.objects.create(study=draft_study, source=source, kind="fetch_outputs")
    with pytest.raises(RuntimeError, match="database gone"):
        services.outputs_fetch_missing(run=services.task_run_claim(run_id=run.pk))
    assert len(fake_llm.requests) <= 4  # the calls in flight, not all 33


def test_calls_are_prepared_a_few_ahead_not_all_at_once(draft_study):
    # A run over thousands of cases with images must not hold every prompt in memory at once.
    from annotation.services import generation

    run = TaskRun.objects.create(study=draft_study, kind="fetch_outputs")
    run = services.task_run_claim(run_id=run.pk)
    unrecorded, most_unrecorded, recorded = set(), [], []

    def prepare(unit):
        if unit % 5 == 0:  # settled without a call, as a unit whose prompt cannot be built
            return generation.Settled(ok=False)
        unrecorded.add(unit)
        most_unrecorded.append(len(unrecorded))
        return unit

    def call(unit):
        time.sleep(0.002)
        return unit * 10

    def record(unit, result):
        unrecorded.discard(unit)
        recorded.append((unit, result))
        return True

    done, failures = generation.run_calls(
        run, range(200), concurrency=3, call=call, record=record, prepare=prepare
    )
    assert (done, failures) == (200, 40)
    assert sorted(recorded) == [(u, u * 10) for u in range(200) if u % 5]
    assert max(most_unrecorded) == 2 * 3  # a window of twice the concurrency, never more
