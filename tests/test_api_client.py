"""The API as a third-party tool sees it: the schema `manage.py spectacular --file` writes passes
openapi-spec-validator, and a client generated from it by openapi-python-client (offline, into a
temporary directory) imports every module, answers an item as a rater and exports a whole
study (studies, ratings as JSON and CSV, results, the paper bundle) with a Bearer token, against
a live server and a real worker; sends an omission answer and a correction and reads them
back; sets up an assisted-reading study (its layout and washout read back), pages through
a study's reads and adds, lists and removes a scorer; and reads back adjudication, consent,
adaptive extra raters and notifications, every JSON body of those checked against its schema.
The commands are those docs/api.md gives."""

import csv
import importlib
import io
import pkgutil
import re
import subprocess
import sys
import time
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename
from rest_framework.authtoken.models import Token

from annotation import services
from tests.factories import submit_rated

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "evalapp_api_client"

# No formatter run after generating (none is needed to import the code), and the downloads'
# media types read as bytes: the generator knows only application/octet-stream by name.
CONFIG = """\
post_hooks: []
content_type_overrides:
  application/zip: application/octet-stream
  application/pdf: application/octet-stream
  image/gif: application/octet-stream
  image/svg+xml: application/octet-stream
  image/jpeg: application/octet-stream
  image/png: application/octet-stream
  image/webp: application/octet-stream
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory, django_db_blocker):
    """The schema file, and the client generated from it, importable for this module's tests."""
    root = tmp_path_factory.mktemp("client")
    schema = root / "schema.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--file", str(schema))
    (root / "config.yaml").write_text(CONFIG)
    command = [GENERATOR, "generate", "--path", "schema.yaml", "--output-path", "client"]
    done = subprocess.run(
        [*command, "--config", "config.yaml"], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(root / "client"))
    yield {"schema": schema, "output": done.stdout + done.stderr, "path": root / "client"}
    sys.path.remove(str(root / "client"))
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


def test_the_schema_passes_openapi_spec_validator(generated):
    spec, _ = read_from_filename(str(generated["schema"]))
    validate(spec)  # raises on the first error
    assert spec["openapi"].startswith("3.")


def test_the_generated_client_covers_every_operation_and_imports_every_module(generated):
    # The generator leaves out, with a warning, what it cannot read: nothing here.
    assert "WARNING" not in generated["output"], generated["output"]
    package = importlib.import_module(PACKAGE)
    names = [m.name for m in pkgutil.walk_packages(package.__path__, f"{PACKAGE}.")]
    for name in names:
        importlib.import_module(name)
    spec, _ = read_from_filename(str(generated["schema"]))
    operations = {
        op["operationId"]
        for path in spec["paths"].values()
        for method, op in path.items()
        if method != "parameters"
    }
    modules = {name.rsplit(".", 1)[1] for name in names if ".api." in name}
    assert operations <= modules, operations - modules
    assert len(names) > 150


def _client(live_server, user, *, checked_by: Path | None = None):
    """A client with the user's token; given the schema file, one that also checks every JSON
    body it receives against the schema of its operation and status (`_conforms`)."""
    client = importlib.import_module(PACKAGE).AuthenticatedClient
    key = Token.objects.get_or_create(user=user)[0].key
    hooks = {"response": [_conforms(checked_by)]} if checked_by else {}
    # AuthenticatedClient sends `Authorization: Bearer <token>` unless told otherwise.
    return client(
        base_url=live_server.url,
        token=key,
        raise_on_unexpected_status=True,
        httpx_args={"event_hooks": hooks},
    )


def _conforms(schema_file: Path):
    """An httpx response hook: the JSON body must be what the schema says for that path, method
    and status, with no property the schema does not name (a generated client would otherwise
    read it as an untyped extra, or fail on a wrong type)."""
    spec, _ = read_from_filename(str(schema_file))
    components = _closed(spec["components"])
    routes = [
        (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), methods)
        for path, methods in spec["paths"].items()
    ]

    def check(response) -> None:
        if not response.headers.get("content-type", "").startswith("application/json"):
            return
        response.read()
        path, method = response.request.url.path, response.request.method.lower()
        methods = next(m for pattern, m in routes if pattern.match(path))
        declared = methods[method]["responses"][str(response.status_code)]
        schema = declared["content"]["application/json"]["schema"]
        validator = OAS30Validator({**_closed(schema), "components": components})
        errors = [
            f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(response.json())
        ]
        assert not errors, (method, path, response.status_code, errors)

    return check


def _closed(schema):
    """The schema with `additionalProperties: false` wherever it lists properties and says
    nothing of others; `nullable` beside `anyOf` read as drf-spectacular and the generator
    both mean it (null allowed), where a JSON Schema validator would ignore it."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    if "properties" in schema and "additionalProperties" not in schema:
        closed["additionalProperties"] = False
    if schema.get("nullable") and "anyOf" in schema:
        closed["anyOf"] = [*closed["anyOf"], {"enum": [None]}]
    return closed


def _api(name: str):
    group = name.split("_", 1)[0]
    return importlib.import_module(f"{PACKAGE}.api.{group}.{name}")


def _wait_for(admin, study_token: str, run_id: int):
    status = importlib.import_module(f"{PACKAGE}.models.task_run_status_enum").TaskRunStatusEnum
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        run = _api("studies_tasks_retrieve").sync(study_token, run_id, client=admin)
        if run.status not in (status.QUEUED, status.RUNNING):
            return run
        time.sleep(0.2)
    raise AssertionError(f"job {run_id} still {run.status} after 90 s")


def _rate_all_but_one(study, rater):
    """Every assignment answered and submitted, but the rater's first: theirs to answer."""
    question = study.questions.get()
    left = study.assignments.filter(rater=rater).order_by("position").first()
    for n, assignment in enumerate(study.assignments.exclude(pk=left.pk).order_by("pk")):
        services.rating_save(assignment=assignment, question=question, answer=n % 5 + 1)
    submit_rated(study)
    return left


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_generated_client_rates_and_exports_a_whole_study(
    generated, live_server, celery_worker, open_study, study_admin, raters
):
    left = _rate_all_but_one(open_study, raters[0])
    with _client(live_server, raters[0]) as rater, _client(live_server, study_admin) as admin:
        _rate_and_export(open_study, left, rater, admin)


def _rate_and_export(open_study, left, rater, admin) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")

    # The rater answers and submits their last item.
    items = _api("rate_items_list").sync(open_study.token, client=rater).results
    assert [i.token for i in items if not i.submitted] == [left.token]
    body = models.AnswerRequest(question="overall", answer=4)
    answers, submit = _api("rate_items_answers_create"), _api("rate_items_submit_create")
    shown = answers.sync(open_study.token, left.token, client=rater, body=body)
    assert shown.questions[0].answer == 4
    assert submit.sync(open_study.token, left.token, client=rater).submitted

    # The admin finds the study, and reads every rating, a page at a time and as one CSV file.
    studies = _api("studies_list").sync(client=admin).results
    assert [(s.token, s.role.value) for s in studies] == [(open_study.token, "admin")]
    rows, page = [], 1
    while page:
        listed = _api("studies_ratings_list").sync(
            open_study.token, client=admin, page=page, page_size=5
        )
        rows += listed.results
        page = page + 1 if listed.next_ else None
    n_assignments = open_study.assignments.count()
    assert len(rows) == n_assignments
    assert all(row.submitted for row in rows)
    assert ("R1", 4) in {(row.rater, row.answer) for row in rows}
    # CSV is declared as text/csv beside the JSON pages; read it through the client's session.
    got = admin.get_httpx_client().get(
        f"/api/v1/studies/{open_study.token}/ratings/", params={"format": "csv"}
    )
    assert got.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(got.text)))
    assert sorted((r["item_token"], r["rater"], r["answer"]) for r in table) == sorted(
        (row.item_token, row.rater, str(row.answer)) for row in rows
    )

    # The statistics, recomputed on the worker.
    run = _api("studies_recompute_create").sync(open_study.token, client=admin)
    assert _wait_for(admin, open_study.token, run.id).status.value == "succeeded"
    results = _api("studies_results_list").sync(open_study.token, client=admin).results
    alpha = next(r for r in results if r.statistic == "krippendorff_alpha" and not r.source)
    assert alpha.n_ratings == n_assignments
    assert alpha.ci_low is not None
    assert alpha.ci_low <= alpha.value <= alpha.ci_high

    # The paper bundle, built on the worker and downloaded as bytes.
    run = _api("studies_bundle_create").sync(open_study.token, client=admin)
    assert _wait_for(admin, open_study.token, run.id).status.value == "succeeded"
    download = _api("studies_bundle_retrieve").sync_detailed(open_study.token, client=admin)
    assert download.status_code == 200
    with zipfile.ZipFile(io.BytesIO(download.parsed.payload.read())) as archive:
        bundled = list(csv.DictReader(io.StringIO(archive.read("ratings.csv").decode())))
    assert len(bundled) == n_assignments


@pytest.mark.django_db(transaction=True)
def test_a_generated_client_sends_an_omission_and_a_correction_and_reads_them_back(
    generated, live_server, draft_study, study_admin, raters
):
    from tests.test_corrections import CORRECTION
    from tests.test_omission import FACTS, omission_question

    omission_question(draft_study)
    services.question_add(study=draft_study, draft=CORRECTION)
    draft_study.cases.update(facts=FACTS)
    services.study_open(study=draft_study)
    models = importlib.import_module(f"{PACKAGE}.models")
    token = draft_study.token
    with _client(live_server, raters[0]) as rater, _client(live_server, study_admin) as admin:
        item = _api("rate_items_list").sync(token, client=rater).results[0]
        read = draft_study.assignments.select_related("item__output").get(token=item.token)
        original = read.item.output.text
        edited = original + " Ask a pharmacist first."
        answers = _api("rate_items_answers_create")
        omission = models.OmissionAnswer(omitted=["f3"], wrong=["f1"])
        for question, answer in (("overall", 4), ("omitted", omission), ("corrected", edited)):
            body = models.AnswerRequest(question=question, answer=answer)
            shown = answers.sync(token, item.token, client=rater, body=body)
        assert _api("rate_items_submit_create").sync(token, item.token, client=rater).submitted

        # The rater's item gives both back in their typed forms.
        by_key = {q.key: q.answer for q in shown.questions}
        assert isinstance(by_key["omitted"], models.OmissionAnswer)
        assert (by_key["omitted"].omitted, by_key["omitted"].wrong) == (["f3"], ["f1"])
        assert isinstance(by_key["corrected"], models.Correction)
        assert by_key["corrected"].text == edited
        assert by_key["corrected"].words == 4  # four words inserted, computed by the server
        assert by_key["corrected"].diff[-1].op.value == "insert"

        # The admin reads each through the ratings list, with its numeric code.
        def rows_of(question):
            listed = _api("studies_ratings_list").sync(token, client=admin, question=question)
            return [r for r in listed.results if r.item_token == read.item.token]

        [omitted] = rows_of("omitted")
        assert isinstance(omitted.answer, models.OmissionAnswer)
        assert (omitted.answer.omitted, omitted.answer.wrong) == (["f3"], ["f1"])
        assert float(omitted.value) == pytest.approx(1 / 7)  # f3 of importances 3+1+1+2
        # A correction's answer in the ratings is its text, its value the word edit rate.
        [corrected] = rows_of("corrected")
        assert corrected.answer == edited
        assert float(corrected.value) == pytest.approx(4 / by_key["corrected"].original_words)
        assert corrected.submitted


@pytest.mark.django_db(transaction=True)
def test_the_generated_client_refuses_a_wrong_bearer_token(generated, live_server, study_admin):
    client = importlib.import_module(PACKAGE).AuthenticatedClient
    with client(base_url=live_server.url, token="0" * 40) as wrong:
        answer = _api("studies_list").sync_detailed(client=wrong)
    assert answer.status_code == 401
    assert answer.parsed.detail == "Invalid token."


@pytest.mark.django_db(transaction=True)
def test_a_generated_client_sets_up_a_reading_study_pages_its_reads_and_manages_scorers(
    generated, live_server, study_admin, raters
):
    from tests.factories import UserFactory
    from tests.reading_support import reading_study

    models = importlib.import_module(f"{PACKAGE}.models")
    study = reading_study(study_admin, raters[:2])
    services.study_open(study=study)
    question = study.questions.get(key="answer")
    for read in study.assignments.filter(rater=raters[0], phase=1):
        services.rating_save(assignment=read, question=question, answer=["PE", "MI"])
        services.assignment_submit(assignment=read)
    UserFactory(username="scorer")
    with _client(live_server, study_admin) as admin:
        # A crossover study, its layout and washout read back.
        body = models.ReadingStudyCreateRequest.from_dict(
            {
                "title": "Crossover",
                "layout": "crossover",
                "washout_days": 14,
                "answer_kind": "number",
                "prompt": "Dose?",
            }
        )
        create = importlib.import_module(f"{PACKAGE}.api.reading_studies.reading_studies_create")
        created = create.sync(client=admin, body=body)
        assert (created.reading_layout.value, created.washout_days) == ("crossover", 14)
        assert created.status == "draft"

        # Every read, a page at a time: 2 readers x 4 cases x 2 phases.
        rows, page = [], 1
        while page:
            listed = _api("studies_reads_list").sync(
                study.token, client=admin, page=page, page_size=5
            )
            rows += listed.results
            page = page + 1 if listed.next_ else None
        assert listed.count == len(rows) == 16
        locked = [r for r in rows if r.rater == "R1" and r.phase == 1]
        assert len(locked) == 4
        assert all(r.answer == ["PE", "MI"] and r.locked_at is not None for r in locked)
        assert {(r.arm, r.arm_kind) for r in rows} == {
            ("unassisted", "unassisted"),
            ("llm", "source"),
        }

        # Scorers: added, listed with what they decided, removed.
        add, listing = _api("studies_scorers_create"), _api("studies_scorers_list")
        added = add.sync(study.token, client=admin, body=models.ScorerRequest(username="scorer"))
        assert (added.username, added.decided) == ("scorer", 0)
        assert [s.username for s in listing.sync(study.token, client=admin)] == ["scorer"]
        gone = _api("studies_scorers_destroy").sync_detailed(study.token, "scorer", client=admin)
        assert gone.status_code == 204
        assert listing.sync(study.token, client=admin) == []


# --- the issue-24 endpoints: adjudication, consent, adaptive extra raters, notifications -------


@pytest.mark.django_db(transaction=True)
def test_a_generated_client_chooses_items_adjudicates_them_and_reads_the_references(
    generated, live_server, study_admin, raters
):
    from tests.adjudication_support import rated_study
    from tests.factories import UserFactory

    models = importlib.import_module(f"{PACKAGE}.models")
    study = rated_study(study_admin, raters)
    senior = UserFactory(username="senior")
    rule = {"kind": "any_value", "question": "harm", "values": ["severe"]}
    with (
        _client(live_server, study_admin, checked_by=generated["schema"]) as admin,
        _client(live_server, senior, checked_by=generated["schema"]) as judge,
    ):
        # The admin chooses by a rule, then a seeded sample of the rest, and reads both runs.
        body = models.SelectionRequest.from_dict({"mode": "rule", "rule": rule})
        run = _api("studies_adjudication_selections_create").sync(
            study.token, client=admin, body=body
        )
        assert (run.mode, run.eligible, run.chosen) == ("rule", 6, 1)
        body = models.SelectionRequest.from_dict({"mode": "sample", "sample_size": 1})
        _api("studies_adjudication_selections_create").sync(study.token, client=admin, body=body)
        runs = _api("studies_adjudication_selections_list").sync(study.token, client=admin)
        assert [(r.mode, r.chosen) for r in runs] == [("rule", 1), ("sample", 1)]
        assert "severe" in runs[0].described

        added = _api("studies_adjudicators_create").sync(
            study.token, client=admin, body=models.AdjudicatorRequest(username="senior")
        )
        assert (added.username, added.label) == ("senior", "A1")
        listed = _api("studies_adjudicators_list").sync(study.token, client=admin)
        assert [(a.username, a.label) for a in listed] == [("senior", "A1")]

        # The adjudicator's queue, one item as the page shows it, and its reference.
        queue = _api("adjudicate_items_list").sync(study.token, client=judge)
        assert len(queue) == 2
        item = _api("adjudicate_items_retrieve").sync(study.token, queue[0], client=judge)
        assert (item.token, item.decided, item.remaining) == (queue[0], False, 2)
        # Typed as the page shows them: readers by label with their answers, the questions
        # to decide (a free-text one takes no reference), the responses lettered.
        assert [r.label for r in item.readers] == ["Reader 1", "Reader 2"]
        assert all(len(pair) == 2 for r in item.readers for pair in r.answers + r.comments)
        assert [(q.key, q.kind, q.answer) for q in item.questions] == [
            ("overall", "likert", None),
            ("harm", "single_choice", None),
        ]
        assert [letter for letter, _ in item.outputs] == ["A"]
        answers = models.ReferenceRequestAnswers.from_dict({"overall": 3, "harm": "mild"})
        body = models.ReferenceRequest(answers=answers, reason="Mild at most.")
        done = _api("adjudicate_items_reference_create").sync(
            study.token, queue[0], client=judge, body=body
        )
        assert (done.decided, done.remaining) == (True, 1)

        # The references as adjudications.csv has them: the reference, its code, who and why.
        rows = _api("studies_adjudications_list").sync(study.token, client=admin)
        by_question = {row.question: row for row in rows}
        assert set(by_question) == {"overall", "harm"}
        overall, harm = by_question["overall"], by_question["harm"]
        assert {row.item_token for row in rows} == {
            study.adjudications.get(token=queue[0]).item.token
        }
        assert (overall.reference_answer, overall.reference_value) == (3, 3.0)
        assert (harm.reference_answer, harm.adjudicator, harm.reason) == (
            "mild",
            "A1",
            "Mild at most.",
        )
        assert harm.n_raters == 2
        assert harm.decided_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_generated_client_sets_consent_and_questions_and_a_rater_answers_them(
    generated, live_server, draft_study, study_admin, raters
):
    models = importlib.import_module(f"{PACKAGE}.models")
    token = draft_study.token
    with (
        _client(live_server, study_admin, checked_by=generated["schema"]) as admin,
        _client(live_server, raters[0], checked_by=generated["schema"]) as rater,
    ):
        body = models.ConsentStatementRequest(text="I agree to rate these summaries.")
        statement = _api("studies_consent_create").sync(token, client=admin, body=body)
        assert (statement.text, statement.version) == (body.text, 1)
        assert _api("studies_consent_list").sync(token, client=admin).version == 1
        questions = _api("studies_rater_questions_create")
        years = questions.sync(
            token,
            client=admin,
            body=models.RaterQuestionAddRequest.from_dict({"template": "years"}),
        )
        assert (years.key, years.kind, years.maximum) == ("years", "number", 70)
        own = models.RaterQuestionAddRequest.from_dict(
            {"key": "site", "prompt": "Which site?", "kind": "text", "required": False}
        )
        assert questions.sync(token, client=admin, body=own).key == "site"
        listed = _api("studies_rater_questions_list").sync(token, client=admin)
        assert [q.key for q in listed.results] == ["years", "site"]
        services.study_open(study=draft_study)

        # The rater reads their step, accepts the current version and answers about themselves.
        mine = _api("rate_consent_list").sync(token, client=rater)
        assert (mine.next_step, mine.version, mine.accepted_version) == ("consent", 1, 0)
        assert [q.key for q in mine.background] == ["years", "site"]
        accept = models.AcceptRequest(version=1)
        mine = _api("rate_consent_accept_create").sync(token, client=rater, body=accept)
        assert (mine.next_step, mine.accepted_version) == ("background", 1)
        assert mine.accepted_at is not None
        answers = models.AnswersRequest(
            answers=models.AnswersRequestAnswers.from_dict({"years": 12})
        )
        mine = _api("rate_consent_background_create").sync(token, client=rater, body=answers)
        assert mine.next_step is None
        assert mine.answers.to_dict() == {"years": 12}

        # The admin's table of raters: consent and answers by pseudonym, never a name.
        table = _api("studies_consent_raters_list").sync(token, client=admin).results
        by_rater = {row.rater: row for row in table}
        assert set(by_rater) == {"R1", "R2", "R3"}
        first = by_rater["R1"]
        assert (first.consent_version, first.answers.to_dict()) == (1, {"years": 12})
        assert first.consent_accepted_at is not None
        assert first.withdrawn_at is None
        assert by_rater["R2"].consent_version == 0


@pytest.mark.django_db(transaction=True)
def test_a_generated_client_sets_adaptive_extra_raters_and_reads_the_extras(
    generated, live_server, draft_study, study_admin
):
    models = importlib.import_module(f"{PACKAGE}.models")
    token = draft_study.token
    rule = {"kind": "range", "question": "overall", "threshold": 2}
    with _client(live_server, study_admin, checked_by=generated["schema"]) as admin:
        off = _api("studies_adaptive_setting_retrieve").sync(token, client=admin)
        assert (off.enabled, off.rule, off.first_k) == (False, None, None)
        body = models.AdaptiveSetRequest.from_dict({"rule": rule, "extra_m": 1})
        on = _api("studies_adaptive_setting_create").sync(token, client=admin, body=body)
        assert (on.enabled, on.first_k, on.extra_m) == (True, 2, 1)
        assert on.rule_text
        services.study_open(study=draft_study)
        draft_study.refresh_from_db()

        # Every item rated 1 and 5 by its two raters: each meets the rule and gets its extra.
        question = draft_study.questions.get()
        for item in draft_study.items.all():
            for answer, read in zip((1, 5), item.assignments.order_by("pk"), strict=True):
                services.rating_save(assignment=read, question=question, answer=answer)
                services.assignment_submit(assignment=read)
        services.adaptive_sweep(study=draft_study)  # what the worker's task would decide

        extras = _api("studies_adaptive_extras_list").sync(token, client=admin)
        n_items = draft_study.items.count()
        assert len(extras) == n_items
        assert {e.item for e in extras} == set(draft_study.items.values_list("token", flat=True))
        assert all(e.rater in {"R1", "R2", "R3"} and e.first_answers == [1, 5] for e in extras)
        assert all(isinstance(e.triggered_at, datetime) for e in extras)
        counts = _api("studies_adaptive_setting_retrieve").sync(token, client=admin).counts
        assert (counts.decided, counts.triggered, counts.extras) == (n_items, n_items, n_items)
        assert (counts.extras_done, counts.shortfall, counts.lost) == (0, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_a_generated_client_reads_the_notifications_and_changes_their_settings(
    generated, live_server, open_study, study_admin, raters
):
    from tests.notifications_support import make_idle

    models = importlib.import_module(f"{PACKAGE}.models")
    token = make_idle(open_study, [study_admin, *raters]).token
    services.notifications_send_due(now=timezone.now())
    with _client(live_server, study_admin, checked_by=generated["schema"]) as admin:
        sent = _api("studies_notifications_list").sync(token, client=admin).results
        assert sorted(n.recipient for n in sent) == ["R1", "R2", "R3"]
        assert {(n.kind.value, n.status.value, n.attempts) for n in sent} == {
            ("stalled", "sent", 1)
        }
        assert all(n.sent_at is not None and n.task_run is None for n in sent)

        read = _api("studies_notifications_settings_retrieve").sync(token, client=admin)
        assert (read.reminders_enabled, read.admin_notices_enabled) == (True, True)
        patch = models.PatchedNotificationSettingsRequest(reminder_stall_days=9)
        changed = _api("studies_notifications_settings_partial_update").sync(
            token, client=admin, body=patch
        )
        assert (changed.reminder_stall_days, changed.reminders_enabled) == (9, True)
        bad = models.PatchedNotificationSettingsRequest(reminder_stall_days=0)
        refused = _api("studies_notifications_settings_partial_update").sync_detailed(
            token, client=admin, body=bad
        )
        assert refused.status_code == 400
        assert "reminder_stall_days" in refused.content.decode()
    open_study.refresh_from_db()
    assert open_study.reminder_stall_days == 9
