"""The study facts TRIPOD-LLM and CHART ask for: when the models were queried, and human
oversight; and a scoped TRIPOD-LLM report offers them as evidence."""

import datetime as dt

import pytest
from django.utils import timezone

from annotation import services as study_services
from annotation.models import Generation, Judge, JudgeVerdict, Source, Study
from annotation.selectors.facts import study_reporting_facts
from checklists import selectors, services
from checklists.models import ChecklistDefinition
from tests.reading_support import reading_study

pytestmark = pytest.mark.django_db

MODEL = "MedSumm-7B"


def called(source: Source, day: int, outcome=Generation.Outcome.OK) -> Generation:
    at = dt.datetime(2026, 3, day, 9, 30, tzinfo=dt.UTC)
    return Generation.objects.create(
        source=source,
        case=source.study.cases.first(),
        outcome=outcome,
        request={},
        endpoint="https://llm.example.org/v1",
        started_at=at,
        finished_at=at + dt.timedelta(seconds=3),
    )


def test_imported_outputs_say_the_query_is_not_recorded(open_study):
    assert study_reporting_facts(study=open_study)["queries"] == [
        f"{MODEL}: outputs imported, so when and how the model was queried is not recorded "
        "in evalapp."
    ]


def test_queries_give_the_dates_of_the_successful_calls_only(open_study):
    source = open_study.sources.get(label=MODEL)
    called(source, 2)
    called(source, 5)
    called(source, 9, outcome=Generation.Outcome.FAILED)
    assert study_reporting_facts(study=open_study)["queries"] == [
        f"{MODEL}: queried through its API endpoint by evalapp's worker, each request on its "
        "own with no earlier conversation, between 2026-03-02 and 2026-03-05 (UTC); 2 "
        "successful calls."
    ]


def verdict(judge: Judge, outcome: str) -> JudgeVerdict:
    now = timezone.now()
    item = judge.study.items.first()
    return JudgeVerdict.objects.create(
        judge=judge, item=item, order=[0], outcome=outcome, started_at=now, finished_at=now
    )


def test_oversight_follows_the_study_state(draft_study):
    def first() -> str:
        return study_reporting_facts(study=draft_study)["oversight"][0]

    assert first() == (
        "The model's outputs are to be judged by clinicians after they are produced (2 raters "
        "per output), in a blinded rating study; evalapp records no use of them in care."
    )
    assert study_reporting_facts(study=draft_study)["oversight"][1] == (
        "No LLM judge stands in for the clinicians."
    )
    study_services.study_open(study=draft_study)
    draft_study.refresh_from_db()
    assert first().startswith(
        "The model's outputs are being judged by clinicians after they were produced (2 raters"
    )
    Study.objects.filter(pk=draft_study.pk).update(status=Study.Status.LOCKED)
    draft_study.refresh_from_db()
    assert first().startswith("The model's outputs were judged by clinicians after they were ")
    assert study_reporting_facts(study=draft_study)["oversight"][1] == (
        "No LLM judge stood in for the clinicians."
    )


def test_oversight_says_a_judge_answered_only_once_it_has_a_verdict(open_study):
    judge = Judge.objects.create(
        study=open_study, label="Judge A", base_url="http://127.0.0.1:9", model_name="gpt-x"
    )
    _, set_up = study_reporting_facts(study=open_study)["oversight"]
    assert set_up == (
        "LLM judge Judge A (model gpt-x) is set up to answer the same rubric about the same "
        "blinded items; its answers are kept apart from the clinicians' and never enter their "
        "statistics."
    )
    verdict(judge, JudgeVerdict.Outcome.FAILED)
    assert study_reporting_facts(study=open_study)["oversight"][1] == set_up
    verdict(judge, JudgeVerdict.Outcome.OK)
    _, answered = study_reporting_facts(study=open_study)["oversight"]
    assert answered.startswith("LLM judge Judge A (model gpt-x) answered the same rubric")


def test_oversight_in_assisted_reading_names_the_assisted_arms(study_admin, raters):
    study = reading_study(study_admin, raters[:2], arm_key="beside-model")
    assert study_reporting_facts(study=study)["oversight"] == [
        "Readers are to read with assistance (a model's output or a tool) in arm beside-model; "
        "every answer recorded will be the reader's own, and no model answers a case in a "
        "reader's place.",
        "No LLM judge stands in for the clinicians.",
    ]
    Study.objects.filter(pk=study.pk).update(status=Study.Status.OPEN)
    study.refresh_from_db()
    assert (
        "every answer recorded so far is the reader's own"
        in (study_reporting_facts(study=study)["oversight"][0])
    )
    Study.objects.filter(pk=study.pk).update(status=Study.Status.ARCHIVED)
    study.refresh_from_db()
    assert study_reporting_facts(study=study)["oversight"][0] == (
        "Readers read with assistance (a model's output or a tool) in arm beside-model; every "
        "answer recorded was the reader's own, and no model answered a case in a reader's place."
    )


def test_a_scoped_tripod_report_offers_the_facts_as_evidence(open_study, study_admin, mi_claim):
    tripod = ChecklistDefinition.objects.get(slug="tripod-llm")
    report = services.report_create(
        lead=study_admin, definition=tripod, title="Linked", study=open_study
    )
    report = services.report_set_scope(
        report=report, user=study_admin, scope={"design": ["E"], "task": ["QA"]}
    )
    facts = selectors.study_facts_for(report=report, user=study_admin)
    own = selectors.own_assessment(report=report, user=study_admin)
    sheet = selectors.assessment_sheet(assessment=own, facts=facts)
    rows = {row.item.code: row for section in sheet.sections for row in section.rows}
    assert rows["19d"].evidence.lines == facts["oversight"]
    assert rows["7c"].evidence.lines == facts["sources"] + facts["queries"]
    assert "when and how the models were queried" in rows["7c"].evidence.text
    assert rows["7d"].evidence.lines[0].startswith("3 raters (pseudonymised as R1 to R3")
    assert rows["1"].evidence is None


def test_a_chart_report_offers_the_query_dates_for_its_query_strategy(
    open_study, study_admin, mi_claim
):
    called(open_study.sources.get(label=MODEL), 4)
    chart = ChecklistDefinition.objects.get(slug="chart")
    report = services.report_create(
        lead=study_admin, definition=chart, title="Chatbot paper", study=open_study
    )
    facts = selectors.study_facts_for(report=report, user=study_admin)
    own = selectors.own_assessment(report=report, user=study_admin)
    sheet = selectors.assessment_sheet(assessment=own, facts=facts)
    rows = {row.item.code: row for section in sheet.sections for row in section.rows}
    assert sheet.total == 39
    assert rows["6b"].evidence.lines == [facts["queries"][0]]
    assert "on 2026-03-04 (UTC)" in rows["6b"].evidence.lines[0]
    assert rows["7biii"].evidence.lines == facts["blinding"]
