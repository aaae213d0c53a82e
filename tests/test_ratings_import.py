"""Importing a finished study's ratings: the Van Veen et al. (2024) patient-question arm."""

import csv
import io
import json

import pytest
from django.core.exceptions import ValidationError

from annotation import services
from annotation.core import rubric
from annotation.core.importing import ImportRejected
from annotation.core.stats.agreement import Observation
from annotation.models import Rating, Study, TaskRun
from annotation.services.external_ratings import study_import_ratings
from tests.factories import alpha_of
from tests.support.vanveen import as_long_csv, vanveen_rows
from tests.test_agreement import coincidence_alpha

pytestmark = pytest.mark.django_db


def test_the_published_study_imports_whole(imported):
    assert imported.status == Study.Status.LOCKED
    assert imported.cases.count() == 100
    assert imported.items.count() == 100
    assert sorted(
        imported.memberships.filter(role="rater").values_list("pseudonym", flat=True)
    ) == [f"reader{i}" for i in range(1, 6)]
    assert not any(m.user.is_active for m in imported.memberships.filter(role="rater"))
    assert Rating.objects.filter(assignment__study=imported).count() == 1496
    assert len(imported.manifest_hash) == 64


def test_every_answer_is_kept_as_shown_and_turned_canonical(imported):
    # Canonical order sorts sources by label: ("expert", "model"), so a positive value favours
    # the expert. The README's analysis: model minus expert = score, flipped where the expert
    # was shown as A.
    expected = {}
    for r in vanveen_rows():
        model_minus_expert = int(r["score_as_shown"]) * (1 if r["shown_as_A"] == "model" else -1)
        expected[(r["reader"], r["sample"], r["question"])] = (
            int(r["score_as_shown"]),
            -model_minus_expert,
        )
    stored = {
        (
            r.assignment.rater.memberships.get().pseudonym,
            r.assignment.item.output.case.external_id,
            r.question.key,
        ): (r.answer, r.value)
        for r in Rating.objects.filter(assignment__study=imported).select_related(
            "question", "assignment__item__output__case", "assignment__rater"
        )
    }
    assert stored == expected


def test_agreement_reproduces_an_independent_computation_on_the_raw_file(imported):
    run = TaskRun.objects.create(study=imported, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    for question in ("completeness", "correctness", "conciseness"):
        observations = [
            Observation(
                r["sample"],
                r["reader"],
                int(r["score_as_shown"]) * (1 if r["shown_as_A"] == "model" else -1),
            )
            for r in vanveen_rows()
            if r["question"] == question
        ]
        expected = coincidence_alpha(observations, "ordinal", [-2, -1, 0, 1, 2])
        result = alpha_of(imported, imported.questions.get(key=question))
        assert result.value == pytest.approx(expected, abs=1e-9), question
        assert result.n_units == 100


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            ["reader1", "1001", "clarity", "1", "model", "expert"],
            "field 'question': not a question",
        ),
        (["reader1", "1001", "completeness", "3", "model", "expert"], "not a point"),
        (["reader1", "1001", "completeness", "1", "model", "model"], "the same as source_a"),
        (["", "1001", "completeness", "1", "model", "expert"], "field 'rater': is empty"),
        (
            ["reader1", "1001", "correctness", "1", "expert", "model"],
            "field 'source_a': this rater saw this pair the other way round at row 2",
        ),
    ],
)
def test_every_bad_row_is_named_and_nothing_is_written(vanveen_study, row, message):
    good = ["reader1", "1001", "completeness", "1", "model", "expert"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["rater", "case_id", "question", "value", "source_a", "source_b"])
    writer.writerows([good, row])
    with pytest.raises(ImportRejected) as caught:
        study_import_ratings(
            study=vanveen_study, filename="bad.csv", content=out.getvalue().encode()
        )
    problems = [str(p) for p in caught.value.problems]
    assert any(p.startswith("bad.csv, row 3") and message in p for p in problems), problems
    assert vanveen_study.cases.count() == 0
    assert not Rating.objects.exists()


def test_only_a_fresh_draft_takes_imported_ratings(open_study):
    with pytest.raises(ValidationError, match="draft"):
        study_import_ratings(study=open_study, filename="x.csv", content=b"rater\n")


def test_the_command_imports_or_names_every_problem(vanveen_study, tmp_path):
    from io import StringIO

    from django.core.management import CommandError, call_command

    bad = tmp_path / "bad.csv"
    bad.write_text("rater,case_id,question,value,source_a,source_b\nr1,1,nope,1,model,expert\n")
    with pytest.raises(CommandError, match=r"bad.csv, row 2, field 'question'"):
        call_command("import_ratings", vanveen_study.token, str(bad))
    good = tmp_path / "vanveen.csv"
    good.write_bytes(as_long_csv(vanveen_rows()))
    out = StringIO()
    call_command("import_ratings", vanveen_study.token, str(good), stdout=out)
    assert "Imported 1496 ratings" in out.getvalue()


def test_extra_values_duplicate_columns_and_spelled_out_na_are_handled(vanveen_study):
    header = "rater,case_id,question,value,source_a,source_b\n"
    with pytest.raises(ImportRejected) as caught:
        study_import_ratings(
            study=vanveen_study,
            filename="x.csv",
            content=(header + "r1,1,completeness,1,model,expert,surplus\n").encode(),
        )
    assert [str(p) for p in caught.value.problems] == ["x.csv, row 2: more values than columns"]
    with pytest.raises(ImportRejected) as caught:
        study_import_ratings(
            study=vanveen_study,
            filename="d.csv",
            content=b"rater,case_id,question,value,source_a,source_a,source_b\n",
        )
    assert "d.csv, field 'source_a': appears twice" in [str(p) for p in caught.value.problems]
    with pytest.raises(ImportRejected) as caught:
        study_import_ratings(
            study=vanveen_study,
            filename="n.csv",
            content=(header + "r1,1,completeness,N/A,model,expert\n").encode(),
        )
    assert "no 'not applicable' answer" in str(caught.value.problems[0])


def test_a_study_that_holds_cases_reports_unknown_ones(vanveen_study):
    services.study_import_file(
        study=vanveen_study,
        filename="cases.csv",
        content=b"case_id,input,source,output,source_kind\n1001,Q,model,S,\n1001,Q,expert,E,human_reference\n",
    )
    content = (
        b"rater,case_id,question,value,source_a,source_b\n"
        b"r1,1001,completeness,1,model,expert\n"
        b"r1,1002,completeness,1,model,expert\n"
        b"r1,1001,correctness,1,model,experts\n"
    )
    with pytest.raises(ImportRejected) as caught:
        study_import_ratings(study=vanveen_study, filename="typo.csv", content=content)
    assert [str(p) for p in caught.value.problems] == [
        "typo.csv, row 3, field 'case_id': the study has no case '1002'",
        "typo.csv, row 4, field 'source': the study has no source 'experts'",
    ]
    assert not Rating.objects.exists()


FACTS = [
    {"id": "f1", "text": "On lisinopril", "importance": 3},
    {"id": "f2", "text": "Dry cough", "importance": 1},
]
CRITERIA = [
    {"id": "k1", "text": "Names the drug", "points": 2},
    {"id": "k2", "text": "Suggests a review", "points": 1},
]


def study_with_case_facts(admin, **case) -> Study:
    """An absolute draft with one case and output, an omission and a criteria question."""
    study = services.study_create(creator=admin, title="Omissions", question_prompt="Good?")
    line = {"case_id": "c1", "input": "Q", "source": "M", "output": "Summary", **case}
    services.study_import_file(study=study, filename="c.jsonl", content=json.dumps(line).encode())
    for key, kind, level in (("omitted", "omission", "ratio"), ("crit", "criteria", "interval")):
        draft = rubric.QuestionDraft(key=key, prompt="?", kind=kind, level=level, required=False)
        services.question_add(study=study, draft=draft)
    return study


def ratings_csv(*rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["rater", "case_id", "question", "value", "source"])
    writer.writerows([[rater, "c1", key, value, "M"] for rater, key, value in rows])
    return out.getvalue().encode()


def test_omission_and_criteria_answers_are_read_against_the_cases_own_lists(study_admin):
    study = study_with_case_facts(study_admin, facts=FACTS, criteria=CRITERIA)
    content = ratings_csv(
        ("r1", "omitted", '{"omitted": ["f1"], "wrong": ["f2"]}'),
        ("r2", "omitted", "none"),
        ("r1", "crit", '["k2"]'),
        ("r2", "crit", "None"),
    )
    assert study_import_ratings(study=study, filename="r.csv", content=content) == 4
    stored = {
        (r.assignment.rater.username.rsplit("-", 1)[1], r.question.key): (r.answer, r.value)
        for r in Rating.objects.select_related("question", "assignment__rater")
    }
    assert stored == {
        ("r1", "omitted"): ({"omitted": ["f1"], "wrong": ["f2"]}, 3 / 4),
        ("r2", "omitted"): ("none", 0.0),
        ("r1", "crit"): (["k2"], 1 / 3),
        ("r2", "crit"): ("none", 0.0),
    }


def test_omission_and_criteria_rows_need_the_cases_lists_and_known_ids(study_admin):
    study = study_with_case_facts(study_admin)
    content = ratings_csv(("r1", "omitted", "none"), ("r1", "crit", '["k1"]'))
    with pytest.raises(ImportRejected) as caught:
        study_import_ratings(study=study, filename="r.csv", content=content)
    assert [str(p) for p in caught.value.problems] == [
        "r.csv, row 2, field 'case_id': case 'c1' has no facts: import the study's cases "
        "with their facts before ratings of question 'omitted'",
    ]
    study = study_with_case_facts(study_admin, facts=FACTS, criteria=CRITERIA)
    for value, message in (
        ('{"omitted": ["f9"]}', "Tick omitted facts among the case's facts: f1, f2."),
        ("f1", 'not JSON: give the ids as {"omitted": ["f2"]}, or "none"'),
    ):
        with pytest.raises(ImportRejected) as caught:
            study_import_ratings(
                study=study, filename="r.csv", content=ratings_csv(("r1", "omitted", value))
            )
        assert [str(p) for p in caught.value.problems] == [
            f"r.csv, row 2, field 'value': {message}"
        ]
    assert not Rating.objects.exists()
