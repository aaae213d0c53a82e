"""Prompt templates, decoding parameters, images and provenance of generated outputs."""

import json

import pytest
from django.core.exceptions import ValidationError

from annotation import services
from annotation.core import llm
from annotation.models import Attachment, Case, Connection, Generation, Output, Source, TaskRun
from tests.support.fake_llm import SYSTEM_FINGERPRINT, Status
from tests.test_attachments import image_bytes

FIELDS = {"input": "Is lisinopril causing my cough?", "reference": "ACE cough?", "case_id": "c7"}


def test_a_template_is_filled_from_the_case_and_nothing_else():
    template = "Case {{case_id}} for a {{ metadata.audience }} aged {{ metadata.age }}: {{ input }}"
    text = llm.render_template(template, FIELDS, {"audience": "GP", "age": 54})
    assert text == "Case c7 for a GP aged 54: Is lisinopril causing my cough?"
    with pytest.raises(llm.TemplateError, match="no metadata 'audience'"):
        llm.render_template(template, FIELDS, {"age": 54})


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ input.__class__ }}", "Unknown field {{ input.__class__ }}"),
        ("{{ output }}", "Unknown field {{ output }}"),
        ("Hello {{ input", "not closed"),
    ],
)
def test_a_template_naming_anything_else_is_refused(template, message):
    with pytest.raises(llm.TemplateError, match=message.replace("{", r"\{").replace("}", r"\}")):
        llm.check_template(template)


def test_the_request_carries_the_decoding_parameters_and_images_but_the_record_only_a_digest():
    endpoint = llm.Endpoint(
        base_url="http://x/v1", model="m", temperature=0.7, top_p=0.9, seed=42, stop=("END",)
    )
    image = llm.Image("image/png", image_bytes())
    body = llm.build_request(endpoint, "What is shown?", (image,))
    assert {k: body[k] for k in ("temperature", "top_p", "seed", "stop")} == {
        "temperature": 0.7,
        "top_p": 0.9,
        "seed": 42,
        "stop": ["END"],
    }
    parts = body["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "What is shown?"}
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    record = llm.request_for_record(body, (image,))
    assert record["messages"][0]["content"][1]["image_url"]["url"] == image.reference
    assert image.reference.startswith("sha256:")
    assert len(image.reference) == len("sha256:") + 64
    assert "base64" not in json.dumps(record)
    assert "max_tokens" not in body  # unset parameters are left to the endpoint


def test_cost_is_estimated_only_when_prices_and_usage_are_known():
    assert llm.cost_estimate(1000, 500, prompt_per_million=3.0, completion_per_million=15.0) == (
        pytest.approx(0.0105)
    )
    assert llm.cost_estimate(1000, None, prompt_per_million=3, completion_per_million=15) is None
    assert llm.cost_estimate(1000, 5, prompt_per_million=None, completion_per_million=15) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"user_template": "{{ secret }}"}, "user_template", "Unknown field"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "At most 4"),
        ({"stop": [""]}, "stop", "non-empty"),
        ({"top_p": 1.5}, "top_p", "Between 0"),
        ({"prompt_price": -1.0}, "prompt_price", "negative"),
    ],
)
def test_a_source_that_would_misbehave_is_refused(draft_study, fields, field, message):
    with pytest.raises(ValidationError) as caught:
        services.source_create(
            study=draft_study, label="M", base_url="http://127.0.0.1:9/v1", model_name="m", **fields
        )
    assert message in " ".join(caught.value.message_dict[field])
    assert not Source.objects.filter(label="M").exists()


@pytest.mark.django_db
def test_a_fetch_sends_the_filled_template_with_images_and_records_provenance(
    draft_study, fake_llm, study_admin, settings, tmp_path
):
    settings.LLM_SECRETS_DIR = str(tmp_path)
    (tmp_path / "echo-key").write_text("sk-file-secret-987\n")
    fake_llm.require_key("sk-file-secret-987")
    case = Case.objects.get(study=draft_study, external_id="c1")
    case.metadata = {"audience": "nurse"}
    case.save()
    Attachment.objects.create(
        case=case,
        position=1,
        name="x.png",
        content_type="image/png",
        width=40,
        height=30,
        sha256="-",
        data=image_bytes(),
    )
    Case.objects.filter(study=draft_study).exclude(pk=case.pk).update(metadata={})
    connection = Connection.objects.create(
        name="vision",
        base_url=fake_llm.base_url,
        allowed_models=["echo-vl"],
        api_key_file="echo-key",
    )
    source = services.source_create(
        study=draft_study,
        label="Vision",
        connection=connection,
        model_name="echo-vl",
        user_template="For a {{ metadata.audience }}: {{ input }}",
        send_images=True,
        seed=7,
        top_p=0.5,
        stop=["###"],
        prompt_price=2.0,
        completion_price=8.0,
    )
    run = TaskRun.objects.create(
        study=draft_study, source=source, created_by=study_admin, kind="fetch_outputs"
    )
    services.outputs_fetch_missing(run=services.task_run_claim(run_id=run.pk))

    # One case had what the template needs; the others fail without any call.
    assert len(fake_llm.requests) == 1
    sent = fake_llm.requests[0]["json"]
    assert sent["messages"][0]["content"][0]["text"] == f"For a nurse: {case.input_text}"
    assert sent["messages"][0]["content"][1]["image_url"]["url"].startswith("data:image/png")
    assert (sent["seed"], sent["top_p"], sent["stop"]) == (7, 0.5, ["###"])
    generation = Output.objects.get(source=source).generation
    assert generation.system_fingerprint == SYSTEM_FINGERPRINT
    assert generation.response_id
    assert generation.cost == pytest.approx(
        (generation.prompt_tokens * 2.0 + generation.completion_tokens * 8.0) / 1e6
    )
    image_part = generation.request["messages"][0]["content"][1]
    assert image_part["image_url"]["url"].startswith("sha256:")
    failed = Generation.objects.filter(source=source, outcome="failed")
    assert failed.count() == Case.objects.filter(study=draft_study).count() - 1
    assert all("no metadata 'audience'" in g.error for g in failed)
    stored = json.dumps(list(Generation.objects.values()), default=str) + json.dumps(
        list(Source.objects.values()), default=str
    )
    assert "sk-file-secret-987" not in stored


@pytest.mark.django_db
def test_the_key_is_nowhere_but_in_the_call(
    client, draft_study, fake_llm, study_admin, monkeypatch, caplog
):
    """Search the database, the logs, the admin's pages and every export for the key."""
    import io
    import logging

    from django.core.management import call_command
    from django.urls import reverse
    from rest_framework.authtoken.models import Token

    key = "sk-never-shown-4242"
    monkeypatch.setenv("EVALAPP_LLM_KEY_SEARCH", key)
    fake_llm.require_key(key)
    connection = Connection.objects.create(
        name="search",
        base_url=fake_llm.base_url,
        allowed_models=["echo"],
        api_key_env="EVALAPP_LLM_KEY_SEARCH",
    )
    source = services.source_create(
        study=draft_study, label="Keyed", connection=connection, model_name="echo"
    )
    fake_llm.enqueue(Status(401))  # an error reply too: its body and record must not hold it
    run = TaskRun.objects.create(
        study=draft_study, source=source, created_by=study_admin, kind="fetch_outputs"
    )
    with caplog.at_level(logging.DEBUG):
        services.outputs_fetch_missing(run=services.task_run_claim(run_id=run.pk))
    assert Output.objects.filter(source=source).exists()  # the key did work
    assert fake_llm.requests[-1]["headers"]["authorization"] == f"Bearer {key}"

    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    client.force_login(study_admin)
    token = Token.objects.create(user=study_admin)
    pages = [
        client.get(reverse("study_dashboard", args=[draft_study.token])),
        client.get(reverse("study_task_run", args=[draft_study.token, run.pk])),
    ]
    headers = {"Authorization": f"Token {token.key}"}
    for name in (
        "api-rating-list",
        "api-unblinding-list",
        "api-rating-history-list",
        "api-source-list",
    ):
        pages.append(client.get(reverse(name, args=[draft_study.token]), headers=headers))
    everything = dump.getvalue() + caplog.text + "".join(p.content.decode() for p in pages)
    assert "EVALAPP_LLM_KEY_SEARCH" in everything  # the variable's name is fine to show
    assert key not in everything
