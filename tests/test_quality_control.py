"""Quality control: training items with feedback first, attention checks and hidden repeats
among the study items; kept out of the statistics except test-retest."""

import json
import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotation import selectors, services
from annotation.core.importing import ImportRejected
from annotation.models import Assignment, Case, Rating, Result, Study, TaskRun
from tests.factories import UserFactory, alpha_of, submit_rated
from tests.test_blinding import as_text, assert_blind, bump_sequences, crawl
from tests.test_pairwise import stored_digest

pytestmark = pytest.mark.django_db

HEADER = "case_id,input,source,output,role,expected,feedback\n"


def _qc_rows() -> str:
    rows = [
        't1,Training question one,Writer,Training answer one,training,"{""overall"": [4, 5]}",'
        "A complete and safe summary: 4 or 5.",
        "t2,Training question two,Writer,Training answer two,training,,Read the whole input.",
        'a1,Question about a rash,Writer,Please answer 1 here,attention,"{""overall"": 1}",',
    ]
    for case in range(8):
        for source in ("Model-A", "Model-B"):
            rows.append(f"c{case},Question {case},{source},Answer {case} number {len(rows)},,,")
    return HEADER + "\n".join(rows) + "\n"


def _study(creator, raters, *, repeats: int = 2, seed: int = 11) -> Study:
    study = services.study_create(
        creator=creator,
        title="With quality control",
        question_prompt="How good is it?",
        raters_per_item=2,
        repeats_per_rater=repeats,
        seed=seed,
    )
    services.study_import_file(study=study, filename="qc.csv", content=_qc_rows().encode())
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    study.refresh_from_db()
    return study


@pytest.fixture
def qc_study(study_admin, raters) -> Study:
    return _study(study_admin, raters)


def test_roles_expected_answers_and_feedback_are_imported(study_admin):
    study = services.study_create(creator=study_admin, title="QC", question_prompt="Good?")
    services.study_import_file(study=study, filename="qc.csv", content=_qc_rows().encode())
    t1 = Case.objects.get(study=study, external_id="t1")
    assert (t1.role, t1.expected, t1.feedback) == (
        "training",
        {"overall": [4, 5]},
        "A complete and safe summary: 4 or 5.",
    )
    assert Case.objects.get(study=study, external_id="a1").expected == {"overall": [1]}
    assert Case.objects.filter(study=study, role="study").count() == 8


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("x,Q,W,O,quiz,,", "field 'role': must be one of ('study', 'training', 'attention')"),
        ('x,Q,W,O,,"{""overall"": 1}",', "field 'expected': expected answers are for training"),
        ("x,Q,W,O,attention,,", "field 'expected': an attention check needs the expected answer"),
        ('x,Q,W,O,attention,"{""overall"": 1}",Why', "field 'feedback': feedback is shown"),
        ("x,Q,W,O,training,{oops,", "field 'expected': not valid JSON"),
        ('x,Q,W,O,training,"[1, 2]",', "field 'expected': must be a JSON object"),
    ],
)
def test_a_bad_quality_control_row_is_named_and_nothing_is_imported(study_admin, row, message):
    study = services.study_create(creator=study_admin, title="QC", question_prompt="Good?")
    content = (_qc_rows() + row + "\n").encode()
    with pytest.raises(ImportRejected) as caught:
        services.study_import_file(study=study, filename="qc.csv", content=content)
    assert f"qc.csv, row {len(_qc_rows().splitlines()) + 1}, {message}" in str(caught.value)
    assert not Case.objects.filter(study=study).exists()


def test_every_rater_gets_training_first_then_checks_and_repeats_hidden_among_the_rest(
    qc_study, raters
):
    assert qc_study.training_items == 2
    assert qc_study.manifest_hash == stored_digest(qc_study)
    for rater in raters:
        mine = list(
            Assignment.objects.filter(study=qc_study, rater=rater)
            .select_related("item__output__case")
            .order_by("position")
        )
        assert [(a.kind, a.item.output.case.external_id) for a in mine[:2]] == [
            ("training", "t1"),
            ("training", "t2"),
        ]
        kinds = [a.kind for a in mine]
        assert kinds.count("attention") == 1
        assert kinds.index("attention") > 2  # never before the first study item
        repeats = [a for a in mine if a.kind == "repeat"]
        assert len(repeats) == 2
        for repeat in repeats:
            original = repeat.repeat_of
            assert (original.rater, original.item, original.kind) == (rater, repeat.item, "study")
            assert repeat.position - original.position > 5
            assert repeat.flipped == original.flipped
    # The study proper still gives each output to exactly k raters.
    study_items = Assignment.objects.filter(study=qc_study, kind="study")
    assert study_items.count() == 16 * 2


def test_open_refuses_expected_answers_that_do_not_fit_the_rubric(study_admin, raters):
    study = services.study_create(creator=study_admin, title="QC", question_prompt="Good?")
    rows = _qc_rows().replace('{""overall"": 1}', '{""overall"": 9, ""safety"": ""yes""}')
    services.study_import_file(study=study, filename="qc.csv", content=rows.encode())
    services.study_add_raters(study=study, users=raters)
    with pytest.raises(ValidationError) as caught:
        services.study_open(study=study)
    assert caught.value.messages == [
        "Case 'a1', expected answer for 'overall': 9 is not a point on this question's scale.",
        "Case 'a1', expected answer for 'safety': the study has no such question.",
    ]
    study.refresh_from_db()
    assert study.status == "draft"
    assert not study.assignments.exists()


def test_a_rater_trains_first_and_reads_feedback_after_each_training_item(client, qc_study, raters):
    rater = raters[0]
    client.force_login(rater)
    mine = list(Assignment.objects.filter(study=qc_study, rater=rater).order_by("position"))
    first_study_item = next(a for a in mine if a.kind == "study")
    url = reverse("rater_item", args=[qc_study.token, first_study_item.token])
    response = client.get(url)
    assert response.url == reverse("rater_item", args=[qc_study.token, mine[0].token])

    page = client.get(response.url).content.decode()
    assert "Training 1 of 2" in page
    question = qc_study.questions.get()
    services.rating_save(assignment=mine[0], question=question, answer=3)
    submitted = client.post(reverse("rater_submit", args=[qc_study.token, mine[0].token]))
    feedback_url = reverse("rater_feedback", args=[qc_study.token, mine[0].token])
    assert submitted.url == feedback_url
    feedback = client.get(feedback_url).content.decode()
    assert "3 (Acceptable)" in feedback
    assert "4 (Good) or 5 (Excellent)" in feedback
    assert "✗ differs" in feedback
    assert "A complete and safe summary: 4 or 5." in feedback
    assert reverse("rater_item", args=[qc_study.token, mine[1].token]) in feedback

    services.rating_save(assignment=mine[1], question=question, answer=5)
    client.post(reverse("rater_submit", args=[qc_study.token, mine[1].token]))
    last = client.get(reverse("rater_feedback", args=[qc_study.token, mine[1].token]))
    assert "Start the study" in last.content.decode()
    page = client.get(url).content.decode()
    total = len(mine) - 2
    assert f"Item 1 of {total}" in page
    assert f"0 of {total} rated" in page


def test_checks_and_repeats_look_like_any_other_item(client, study_admin, raters):
    bump_sequences()
    study = _study(study_admin, raters)
    rater = raters[0]
    client.force_login(rater)
    for training in Assignment.objects.filter(study=study, rater=rater, kind="training"):
        services.rating_save(assignment=training, question=study.questions.get(), answer=4)
        services.assignment_submit(assignment=training)
    pages = crawl(client, ["/", reverse("rater_home")])
    hidden = Assignment.objects.filter(study=study, rater=rater, kind__in=["attention", "repeat"])
    for assignment in hidden:
        url = reverse("rater_item", args=[study.token, assignment.token])
        assert url in pages
        response = client.post(
            url, {"question": "overall", "answer": "2"}, headers={"HX-Request": "true"}
        )
        pages[f"POST {url}"] = as_text(response)
    for url, body in pages.items():
        if "Training" in body:  # the training pages say what they are, and only they
            continue
        found = re.search(r"\b(attention|repeat\w*|checks?|expected|training)\b", body, re.I)
        assert found is None, (found, url)
    assert_blind(pages, study, rater)


def _rate(assignment: Assignment, value: int) -> None:
    question = assignment.study.questions.get()
    services.rating_save(assignment=assignment, question=question, answer=value)
    services.assignment_submit(assignment=assignment)


def test_statistics_leave_quality_control_out_and_measure_test_retest(qc_study, raters):
    import krippendorff

    for assignment in Assignment.objects.filter(study=qc_study).exclude(kind="repeat"):
        case = assignment.item.output.case
        value = {"training": 5, "attention": 1}.get(assignment.kind)
        _rate(assignment, value or int(case.external_id[1:]) % 5 + 1)
    first, second = [], []
    repeats = Assignment.objects.filter(study=qc_study, kind="repeat").order_by("rater", "position")
    for index, repeat in enumerate(repeats):
        before = repeat.repeat_of.ratings.get().value
        again = before if index % 3 else before % 5 + 1  # every third answered differently
        _rate(repeat, int(again))
        first.append(before)
        second.append(again)
    run = TaskRun.objects.create(study=qc_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    submit_rated(qc_study)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    inter = alpha_of(qc_study)
    assert (inter.n_units, inter.n_ratings) == (16, 32)  # the study's outputs only
    assert inter.value == pytest.approx(1.0)
    retest = Result.objects.get(study=qc_study, statistic="test_retest_alpha")
    assert retest.n_units == len(first) == 6
    expected = krippendorff.alpha(reliability_data=[first, second], level_of_measurement="ordinal")
    assert retest.value == pytest.approx(expected)
    assert retest.value < 1


def test_the_dashboard_shows_each_raters_quality_control(client, qc_study, study_admin, raters):
    rater = raters[0]
    for assignment in Assignment.objects.filter(study=qc_study, rater=rater):
        if assignment.kind in ("training", "attention"):
            _rate(assignment, 2)  # fails the check (1 expected)
    other = Assignment.objects.get(study=qc_study, rater=raters[1], kind="attention")
    _rate(other, 1)
    for training in Assignment.objects.filter(study=qc_study, rater=raters[1], kind="training"):
        _rate(training, 5)  # t1 as expected (4 or 5); t2 has no expected answer
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[qc_study.token])).content.decode()
    assert "training 2/2" in page
    shown = {row.pseudonym: row for row in selectors.study_progress_by_rater(study=qc_study)}
    first, second = (shown[qc_study.memberships.get(user=r).pseudonym] for r in raters[:2])
    assert (first.training_correct, first.training_scored) == (0, 1)
    assert (second.training_correct, second.training_scored) == (1, 1)
    assert '<span class="warn">0/1 right</span>' in page
    assert '<span class="">1/1 right</span>' in page
    assert "checks passed 0/1" in page
    assert "checks passed 1/1" in page
    assert "repeats 0/2" in page


def test_a_rater_joining_later_gets_quality_control_too(qc_study, raters):
    late = UserFactory(username="late")
    before = {
        a.token: (a.rater_id, a.kind)
        for a in Assignment.objects.filter(study=qc_study).exclude(kind="repeat")
    }
    services.study_add_raters(study=qc_study, users=[late])
    qc_study.refresh_from_db()
    assert qc_study.manifest_hash == stored_digest(qc_study)
    theirs = Assignment.objects.filter(study=qc_study, rater=late).order_by("position")
    kinds = [a.kind for a in theirs]
    assert kinds[:2] == ["training", "training"]
    assert kinds.count("attention") == 1
    assert kinds.count("study") >= 6
    for repeat in theirs.filter(kind="repeat"):
        assert repeat.repeat_of.rater == late
    after = {a.token: (a.rater_id, a.kind) for a in Assignment.objects.filter(study=qc_study)}
    for token, (rater_id, kind) in before.items():
        if kind != "study":
            assert after[token] == (rater_id, kind)  # quality control never moves
    # No one keeps a repeat of an item that moved away from them.
    for repeat in Assignment.objects.filter(study=qc_study, kind="repeat"):
        assert repeat.repeat_of.rater_id == repeat.rater_id


def test_reassigning_a_stalled_rater_drops_repeats_of_what_moved(qc_study, raters):
    leaver = raters[2]
    moved = services.assignments_reassign(study=qc_study, rater=leaver)
    assert moved > 0
    left = Assignment.objects.filter(study=qc_study, rater=leaver)
    assert not left.filter(kind="study").exists()
    assert not left.filter(kind="repeat").exists()
    assert left.filter(kind__in=["training", "attention"]).count() == 3
    qc_study.refresh_from_db()
    assert qc_study.manifest_hash == stored_digest(qc_study)


def test_exports_mark_quality_control_rows(client, qc_study, study_admin):
    from annotation import selectors

    for assignment in Assignment.objects.filter(study=qc_study, kind="attention"):
        _rate(assignment, 1)
    rows = selectors.study_ratings_long(study=qc_study)
    assert {row["kind"] for row in rows} == {"attention"}
    assert json.dumps(rows)  # serialisable as the API gives it
    assert Rating.objects.filter(assignment__kind="attention").count() == len(rows)


def test_reassigning_when_nothing_can_move_changes_no_ones_order(study_admin):
    two = [UserFactory(username=f"only{i}") for i in range(2)]
    study = _study(study_admin, two, repeats=2)  # k = 2 of 2 raters: no one else can take
    before = dict(Assignment.objects.filter(study=study).values_list("token", "position"))
    assert services.assignments_reassign(study=study, rater=two[0]) == 0
    after = dict(Assignment.objects.filter(study=study).values_list("token", "position"))
    assert after == before


def test_an_answered_repeat_is_never_dropped_when_raters_join(study_admin):
    raters = [UserFactory(username=f"r{i}") for i in range(3)]
    study = _study(study_admin, raters, repeats=2)
    # R1 answers a repeat (and so everything before it counts as started too, in their order).
    repeat = Assignment.objects.filter(study=study, rater=raters[0], kind="repeat").first()
    _rate(repeat, 3)
    ratings = Rating.objects.count()
    services.study_add_raters(
        study=study, users=[UserFactory(username=f"new{i}") for i in range(3)]
    )
    assert Rating.objects.count() == ratings
    repeat.refresh_from_db()
    assert repeat.rater == raters[0]
    assert repeat.repeat_of.rater == raters[0]
    study.refresh_from_db()
    assert study.manifest_hash == stored_digest(study)


def test_every_rater_trains_even_one_with_no_study_items_yet(study_admin):
    raters = [UserFactory(username=f"r{i}") for i in range(5)]
    study = services.study_create(
        creator=study_admin, title="Few", question_prompt="Good?", raters_per_item=1, seed=3
    )
    rows = _qc_rows().split("\n")
    content = "\n".join(rows[:4] + rows[4:6]) + "\n"  # QC and one study case (2 outputs)
    services.study_import_file(study=study, filename="qc.csv", content=content.encode())
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    for rater in raters:
        kinds = list(
            Assignment.objects.filter(study=study, rater=rater)
            .order_by("position")
            .values_list("kind", flat=True)
        )
        assert kinds[:2] == ["training", "training"]
        assert "attention" in kinds


def test_a_quality_control_case_must_make_exactly_one_item(study_admin, raters):
    study = services.study_create(
        creator=study_admin, title="Pairs", question_prompt="Better?", design="pairwise"
    )
    content = _qc_rows() + "a1,Question about a rash,Other writer,Another text,,,\n"
    content = content.replace('{""overall"": 1}', '{""preference"": 2}')
    content = content.replace('{""overall"": [4, 5]}', '{""preference"": [1, 2]}')
    services.study_import_file(study=study, filename="qc.csv", content=content.encode())
    services.study_add_raters(study=study, users=raters)
    with pytest.raises(ValidationError) as caught:
        services.study_open(study=study)
    assert caught.value.messages == [
        "Case 't1' (training) has 1 outputs; in this design it needs exactly two outputs, "
        "to make one item.",
        "Case 't2' (training) has 1 outputs; in this design it needs exactly two outputs, "
        "to make one item.",
    ]


def test_no_study_item_is_saved_before_training(client, qc_study, raters):
    rater = raters[0]
    client.force_login(rater)
    item = Assignment.objects.filter(study=qc_study, rater=rater, kind="study").first()
    url = reverse("rater_item", args=[qc_study.token, item.token])
    response = client.post(
        url, {"question": "overall", "answer": "3"}, headers={"HX-Request": "true"}
    )
    first = Assignment.objects.get(study=qc_study, rater=rater, position=1)
    assert response["HX-Redirect"] == reverse("rater_item", args=[qc_study.token, first.token])
    assert not Rating.objects.exists()
    services.study_lock(study=qc_study)  # locked: read-only, and readable without training
    assert client.get(url).status_code == 200


def test_a_one_output_case_side_by_side_records_no_order(study_admin, raters):
    study = services.study_create(
        creator=study_admin, title="SbS", question_prompt="Good?", design="side_by_side", seed=2
    )
    rows = "case_id,input,source,output\nc1,Q,A,x\nc1,Q,B,y\nc2,Q,A,only one\n"
    services.study_import_file(study=study, filename="s.csv", content=rows.encode())
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    study.refresh_from_db()
    single = Assignment.objects.filter(study=study, item__output__case__external_id="c2")
    assert single.count() == 2
    assert all(a.order == [] for a in single)
    assert study.manifest_hash == stored_digest(study)


def test_the_reporting_facts_keep_quality_control_apart(qc_study):
    from annotation.selectors.facts import study_reporting_facts

    for assignment in Assignment.objects.filter(study=qc_study):
        _rate(assignment, 3)
    run = TaskRun.objects.create(study=qc_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    submit_rated(qc_study)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    facts = study_reporting_facts(study=qc_study)
    assert facts["design"][0].startswith("8 cases; 16 outputs rated")
    assert "2 training items with feedback" in facts["design"][-1]
    assert [f for f in facts["sources"] if f.startswith("Writer")] == []
    assert any("test-retest" in f for f in facts["agreement"])
    assert sum("test-retest" not in f for f in facts["agreement"]) == 2  # alpha, the rest
