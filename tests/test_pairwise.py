"""Pairwise studies: pairs of a case's outputs as A and B, sides balanced, answers canonical."""

from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotation import services
from annotation.models import Assignment, Item, Rating, Study, TaskRun
from tests.factories import alpha_of, submit_rated
from tests.test_blinding import as_text, assert_blind, bump_sequences, crawl

pytestmark = pytest.mark.django_db

SOURCES = ["Expert", "Model-A", "Model-B"]


@pytest.fixture
def pairwise_study(study_admin, raters) -> Study:
    return make_pairwise_study(study_admin, raters)


def make_pairwise_study(study_admin, raters) -> Study:
    study = services.study_create(
        creator=study_admin,
        title="Which summary is better?",
        question_prompt="Which summary is better overall?",
        raters_per_item=2,
        design=Study.Design.PAIRWISE,
        seed=77,
    )
    rows = ["case_id,input,source,output"]
    for case in range(4):
        for source in SOURCES:
            rows.append(f"c{case},Question {case},{source},Summary of {case} by the {source} team")
    content = ("\n".join(rows) + "\n").encode()
    services.study_import_file(study=study, filename="pairs.csv", content=content)
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    study.refresh_from_db()
    return study


def test_every_pair_of_a_cases_outputs_is_an_item_in_canonical_order(pairwise_study):
    items = Item.objects.filter(study=pairwise_study).select_related(
        "output__source", "output_b__source"
    )
    pairs = Counter((i.output.source.label, i.output_b.source.label) for i in items)
    assert pairs == {("Expert", "Model-A"): 4, ("Expert", "Model-B"): 4, ("Model-A", "Model-B"): 4}
    assert all(i.output.case_id == i.output_b.case_id for i in items)
    assert pairwise_study.questions.get().kind == "pairwise"
    assert len(pairwise_study.manifest_hash) == 64


def test_sides_are_balanced_for_every_pair_of_sources(pairwise_study):
    shown_first = Counter()
    for a in Assignment.objects.filter(study=pairwise_study).select_related(
        "item__output__source", "item__output_b__source"
    ):
        pair = (a.item.output.source.label, a.item.output_b.source.label)
        shown_first[(pair, pair[1] if a.flipped else pair[0])] += 1
    for pair in [("Expert", "Model-A"), ("Expert", "Model-B"), ("Model-A", "Model-B")]:
        assert abs(shown_first[(pair, pair[0])] - shown_first[(pair, pair[1])]) <= 1, pair
        assert shown_first[(pair, pair[0])] + shown_first[(pair, pair[1])] == 8


def test_the_rater_sees_a_and_b_in_their_own_order(client, pairwise_study, raters):
    rater = raters[0]
    client.force_login(rater)
    for assignment in Assignment.objects.filter(study=pairwise_study, rater=rater):
        item = assignment.item
        first, second = item.output.text, item.output_b.text
        a_text, b_text = (second, first) if assignment.flipped else (first, second)
        page = client.get(reverse("rater_item", args=[pairwise_study.token, assignment.token]))
        body = page.content.decode()
        assert body.index(a_text) < body.index(b_text)
        assert "Response A" in body
        assert "Response B" in body
        assert body.index("A much better") < body.index("B much better")  # A on the left


def test_answers_are_stored_as_shown_and_analysed_in_canonical_order(pairwise_study):
    question = pairwise_study.questions.get()
    flipped = Assignment.objects.filter(study=pairwise_study, flipped=True).first()
    straight = Assignment.objects.filter(study=pairwise_study, flipped=False).first()
    for assignment in (flipped, straight):
        services.rating_save(assignment=assignment, question=question, answer=2)  # A much better
    assert Rating.objects.get(assignment=flipped).value == -2.0
    assert Rating.objects.get(assignment=straight).value == 2.0
    assert {r.answer for r in Rating.objects.all()} == {2}


def test_raters_who_prefer_the_same_source_agree_whatever_side_they_saw(pairwise_study):
    question = pairwise_study.questions.get()
    items = list(Item.objects.filter(study=pairwise_study).order_by("pk"))
    sides_differ = 0
    for index, item in enumerate(items):
        canonical = 2 if index % 2 else -1  # the first source much better, or the second a bit
        assignments = list(item.assignments.all())
        sides_differ += len({a.flipped for a in assignments}) > 1
        for assignment in assignments:
            shown = -canonical if assignment.flipped else canonical
            services.rating_save(assignment=assignment, question=question, answer=shown)
    assert sides_differ > 0  # some raters saw the same pair the other way round
    run = TaskRun.objects.create(study=pairwise_study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    submit_rated(pairwise_study)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    result = alpha_of(pairwise_study)
    assert result.value == pytest.approx(1.0)
    assert (result.n_units, result.n_ratings) == (12, 24)


def test_a_pairwise_question_needs_a_pairwise_study(draft_study, pairwise_study):
    with pytest.raises(ValidationError, match="needs a pairwise study"):
        services.questions_add_template(study=draft_study, name="vanveen")
    assert draft_study.questions.count() == 1


def test_the_van_veen_questions_apply_to_a_pairwise_draft(study_admin):
    study = services.study_create(
        creator=study_admin, title="VV", question_prompt="Overall?", design="pairwise"
    )
    added = services.questions_add_template(study=study, name="vanveen")
    assert [q.key for q in added] == ["completeness", "correctness", "conciseness"]
    assert added[0].values == [-2, -1, 0, 1, 2]


def test_nothing_a_rater_of_a_pairwise_study_reaches_names_a_source(client, study_admin, raters):
    bump_sequences()
    study = services.study_create(
        creator=study_admin, title="Blind pairs", question_prompt="Better?", design="pairwise"
    )
    rows = "case_id,input,source,output\n" + "".join(
        f"c{c},Q{c},{s},Text {c} {i}\n" for c in range(3) for i, s in enumerate(SOURCES)
    )
    services.study_import_file(study=study, filename="p.csv", content=rows.encode())
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    rater = raters[0]
    client.force_login(rater)
    pages = crawl(client, ["/", reverse("rater_home")])
    for url in [u for u in pages if u.count("/") == 4 and u.startswith("/rate/")]:
        data = {"question": "preference", "answer": "1"}
        response = client.post(url, data, headers={"HX-Request": "true"})
        assert response.status_code == 200
        pages[f"POST {url}"] = as_text(response)
    assert_blind(pages, study, rater)


def stored_digest(study: Study) -> str:
    """The manifest's digest recomputed from what the database holds."""
    from annotation.core import design

    pseudonym = dict(study.memberships.filter(role="rater").values_list("user_id", "pseudonym"))
    placements = []
    for a in (
        Assignment.objects.filter(study=study)
        .select_related("item__output__case", "item__output__source", "item__output_b__source")
        .prefetch_related("item__members__output__source")
    ):
        if a.order:  # a set: its members by slot, shown in the assignment's order
            members = sorted(a.item.members.all(), key=lambda m: m.slot)
            labels = tuple(m.output.source.label for m in members)
            shown = tuple(labels[slot] for slot in a.order)
        elif a.item.output_b_id:
            labels = (a.item.output.source.label, a.item.output_b.source.label)
            shown = labels[::-1] if a.flipped else labels
        else:  # one output: nothing to order
            labels, shown = (a.item.output.source.label,), ()
        key = "\x1f".join([a.item.output.case.external_id, *labels])
        placements.append(
            design.Placement(pseudonym[a.rater_id], key, a.position, shown, a.kind, a.session)
        )
    return design.Manifest(
        seed=study.seed, k=study.raters_per_item, placements=tuple(placements)
    ).digest


@pytest.mark.parametrize("seed", range(8))
def test_raters_joining_a_pairwise_study_keep_every_side_as_designed(study_admin, seed):
    from tests.factories import UserFactory

    study = services.study_create(
        creator=study_admin,
        title=f"Pairs {seed}",
        question_prompt="Better?",
        design="pairwise",
        raters_per_item=3,
        seed=seed,
    )
    rows = "case_id,input,source,output\n" + "".join(
        f"c{c},Q{c},{s},T{c}{s}\n" for c in range(5) for s in SOURCES
    )
    services.study_import_file(study=study, filename="p.csv", content=rows.encode())
    services.study_add_raters(study=study, users=[UserFactory(username=f"r{i}") for i in range(4)])
    services.study_open(study=study)
    study.refresh_from_db()
    assert study.manifest_hash == stored_digest(study)
    sides_before = {(a.token): a.flipped for a in Assignment.objects.filter(study=study)}
    services.study_add_raters(
        study=study, users=[UserFactory(username=f"late{i}") for i in range(2)]
    )
    study.refresh_from_db()
    assert study.manifest_hash == stored_digest(study)
    assert {a.token: a.flipped for a in Assignment.objects.filter(study=study)} == sides_before


def test_a_save_on_an_item_that_moved_to_another_rater_is_refused(open_study):
    from tests.factories import UserFactory

    before = list(Assignment.objects.filter(study=open_study))
    services.study_add_raters(study=open_study, users=[UserFactory(username="late")])
    now = dict(Assignment.objects.filter(study=open_study).values_list("pk", "rater_id"))
    moved = [a for a in before if now[a.pk] != a.rater_id]
    assert moved  # the newcomer took over some unstarted work
    with pytest.raises(ValidationError, match="given to another rater"):
        services.rating_save(assignment=moved[0], question=open_study.questions.get(), answer=3)
    assert not Rating.objects.exists()
