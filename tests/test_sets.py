"""Side-by-side and ranking studies: all of a case's outputs on one screen, in an order balanced
across raters, rated each on its own or ranked; answers analysed per source."""

import csv
import io
import json
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotation import services
from annotation.core import rubric
from annotation.models import Assignment, Item, Rating, Study, TaskRun
from tests.factories import UserFactory, alpha_of, submit_rated
from tests.test_blinding import as_text, assert_blind, body_text, bump_sequences, crawl

pytestmark = pytest.mark.django_db

SOURCES = ["Expert", "Model-A", "Model-B"]
RANK = rubric.QuestionDraft(key="rank", prompt="Rank them", kind="ranking", level="ordinal")


def _rows(n_cases: int, sources=SOURCES) -> bytes:
    rows = ["case_id,input,source,output"]
    for case in range(n_cases):
        for source in sources:
            rows.append(f"c{case},Question {case},{source},Summary {case} in words {len(rows)}")
    return ("\n".join(rows) + "\n").encode()


def _study(creator, raters, *, design: str, n_cases: int = 6, seed: int = 5, rank=True) -> Study:
    study = services.study_create(
        creator=creator,
        title=f"{design} study",
        question_prompt="How good is it?" if design != "ranking" else "Rank them",
        raters_per_item=2,
        design=design,
        seed=seed,
    )
    if design == Study.Design.SIDE_BY_SIDE and rank:
        services.question_add(study=study, draft=RANK)
    services.study_import_file(study=study, filename="s.csv", content=_rows(n_cases))
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    study.refresh_from_db()
    return study


@pytest.fixture
def side_by_side(study_admin, raters) -> Study:
    return _study(study_admin, raters, design=Study.Design.SIDE_BY_SIDE)


@pytest.fixture
def ranking(study_admin, raters) -> Study:
    return _study(study_admin, raters, design=Study.Design.RANKING)


def _labels(assignment: Assignment) -> list[str]:
    return [o.source.label for o in assignment.shown_outputs()]


def test_one_item_per_case_shows_all_its_outputs_in_canonical_order(side_by_side):
    items = Item.objects.filter(study=side_by_side).prefetch_related("members__output__source")
    assert items.count() == 6
    for item in items:
        assert [o.source.label for o in item.canonical_outputs()] == SOURCES
        assert item.output == item.canonical_outputs()[0]
        assert len({o.case_id for o in item.canonical_outputs()}) == 1
    assert Assignment.objects.filter(study=side_by_side).count() == 12


@pytest.mark.parametrize("seed", range(6))
def test_each_source_takes_each_position_equally_often_within_one(study_admin, seed):
    raters = [UserFactory(username=f"r{i}") for i in range(4)]
    study = _study(study_admin, raters, design="ranking", n_cases=7, seed=seed)
    at = Counter()
    for assignment in Assignment.objects.filter(study=study):
        assert sorted(assignment.order) == [0, 1, 2]
        for place, label in enumerate(_labels(assignment)):
            at[(label, place)] += 1
    for place in range(3):
        counts = [at[(label, place)] for label in SOURCES]
        assert sum(counts) == 14
        assert max(counts) - min(counts) <= 1, (place, counts)


def test_the_rater_sees_every_response_in_their_own_order(client, side_by_side, raters):
    client.force_login(raters[0])
    orders = set()
    for assignment in Assignment.objects.filter(study=side_by_side, rater=raters[0]):
        body = client.get(reverse("rater_item", args=[side_by_side.token, assignment.token]))
        body = body.content.decode()
        texts = [o.text for o in assignment.shown_outputs()]
        assert body.index(texts[0]) < body.index(texts[1]) < body.index(texts[2])
        for letter in "ABC":
            assert f"Response {letter}" in body
            assert f'id="q-overall-{letter}"' in body
            assert f'name="rank-{letter}"' in body
        assert 'id="q-rank"' in body
        orders.add(tuple(assignment.order))
    assert len(orders) > 1  # not everyone sees the canonical order


def test_a_per_output_answer_is_about_the_response_shown_at_that_place(side_by_side):
    question = side_by_side.questions.get(key="overall")
    assignment = Assignment.objects.filter(study=side_by_side).first()
    shown = assignment.shown_outputs()
    for place, score in enumerate([5, 3, 1]):
        services.rating_save(assignment=assignment, question=question, answer=score, shown=place)
    stored = {r.output_id: r.answer for r in Rating.objects.filter(assignment=assignment)}
    assert stored == {shown[0].pk: 5, shown[1].pk: 3, shown[2].pk: 1}
    with pytest.raises(ValidationError, match="which response"):
        services.rating_save(assignment=assignment, question=question, answer=4)
    with pytest.raises(ValidationError, match="which response"):
        services.rating_save(assignment=assignment, question=question, answer=4, shown=3)
    rank = side_by_side.questions.get(key="rank")
    with pytest.raises(ValidationError, match="as a whole"):
        services.rating_save(assignment=assignment, question=rank, answer=[1, 2, 3], shown=0)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([1, 1, 2], "different rank"),
        ([1, 2], "each of the 3"),
        ([0, 1, 2], "from 1"),
        ([1, 2, 4], "from 1"),
        (["x", 1, 2], "from 1"),
        ("1,2,3", "each of the 3"),
        ("na", "not applicable"),
    ],
)
def test_a_ranking_that_does_not_fit_is_refused(ranking, raw, message):
    assignment = Assignment.objects.filter(study=ranking).first()
    with pytest.raises(ValidationError, match=message):
        services.rating_save(assignment=assignment, question=ranking.questions.get(), answer=raw)
    assert not Rating.objects.exists()


def test_a_partial_ranking_is_saved_but_cannot_be_submitted(ranking):
    assignment = Assignment.objects.filter(study=ranking).first()
    question = ranking.questions.get()
    saved = services.rating_save(assignment=assignment, question=question, answer=["2", "", None])
    assert saved.answer == [2, None, None]
    assert saved.value is None
    with pytest.raises(ValidationError, match="Still to answer: Rank them"):
        services.assignment_submit(assignment=assignment)
    services.rating_save(assignment=assignment, question=question, answer=["2", "3", "1"])
    assert services.assignment_submit(assignment=assignment).submitted_at is not None
    cleared = services.rating_save(assignment=assignment, question=question, answer=[None] * 3)
    assert cleared.answer == []
    assert Rating.objects.get().revisions.count() == 3


def test_submit_names_the_responses_still_to_rate(side_by_side):
    assignment = Assignment.objects.filter(study=side_by_side).first()
    overall = side_by_side.questions.get(key="overall")
    services.rating_save(assignment=assignment, question=overall, answer=4, shown=1)
    services.rating_save(
        assignment=assignment, question=side_by_side.questions.get(key="rank"), answer=[1, 2, 3]
    )
    with pytest.raises(ValidationError, match=r"How good is it\? \(response A, C\)"):
        services.assignment_submit(assignment=assignment)
    for place in (0, 2):
        services.rating_save(assignment=assignment, question=overall, answer=2, shown=place)
    assert services.assignment_submit(assignment=assignment).submitted_at is not None


def test_the_rater_ranks_over_htmx_and_a_bad_place_is_refused_clearly(client, ranking, raters):
    assignment = Assignment.objects.filter(study=ranking, rater=raters[0]).first()
    client.force_login(raters[0])
    url = reverse("rater_item", args=[ranking.token, assignment.token])
    hx = {"HX-Request": "true"}
    data = {"question": "rank", "rank-A": "3", "rank-B": "1", "rank-C": "2"}
    assert "Saved" in client.post(url, data, headers=hx).content.decode()
    assert Rating.objects.get(assignment=assignment).answer == [3, 1, 2]
    page = client.get(url).content.decode()
    assert page.count("checked") == 3
    refused = client.post(url, {**data, "rank-C": "1"}, headers=hx).content.decode()
    assert "different rank" in refused
    assert Rating.objects.get(assignment=assignment).answer == [3, 1, 2]


def test_a_per_output_save_with_no_such_response_is_refused_not_an_error(
    client, side_by_side, raters
):
    assignment = Assignment.objects.filter(study=side_by_side, rater=raters[0]).first()
    client.force_login(raters[0])
    url = reverse("rater_item", args=[side_by_side.token, assignment.token])
    for about in ("Z", "", "AB"):
        data = {"question": "overall", "answer": "3", "about": about}
        response = client.post(url, data, headers={"HX-Request": "true"})
        assert response.status_code == 200
        assert "which response" in response.content.decode()
    assert not Rating.objects.exists()


def _rank_by_canonical(assignment: Assignment, canonical_ranks: dict[str, int]) -> list[int]:
    """The answer, as shown to this rater, that gives each source its canonical rank."""
    return [canonical_ranks[label] for label in _labels(assignment)]


def test_raters_who_rank_sources_alike_agree_whatever_order_they_saw(ranking):
    question = ranking.questions.get()
    orders = set()
    for index, item in enumerate(Item.objects.filter(study=ranking).order_by("pk")):
        wanted = {"Expert": 1, "Model-A": 2, "Model-B": 3}
        if index % 2:
            wanted = {"Expert": 2, "Model-A": 3, "Model-B": 1}
        for assignment in item.assignments.all():
            orders.add(tuple(assignment.order))
            answer = _rank_by_canonical(assignment, wanted)
            services.rating_save(assignment=assignment, question=question, answer=answer)
    assert len(orders) > 1
    run = TaskRun.objects.create(study=ranking, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    submit_rated(ranking)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    result = alpha_of(ranking, question)
    assert result.value == pytest.approx(1.0)
    # One unit per output: 6 cases x 3 sources, each ranked by 2 raters.
    assert (result.n_units, result.n_ratings, result.detail["level"]) == (18, 36, "ordinal")


def test_per_output_ratings_are_analysed_per_source(side_by_side):
    question = side_by_side.questions.get(key="overall")
    typical = {"Expert": 5, "Model-A": 3, "Model-B": 1}
    for assignment in Assignment.objects.filter(study=side_by_side):
        for place, label in enumerate(_labels(assignment)):
            services.rating_save(
                assignment=assignment, question=question, answer=typical[label], shown=place
            )
    run = TaskRun.objects.create(study=side_by_side, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    submit_rated(side_by_side)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    result = alpha_of(side_by_side, question)
    assert result.value == pytest.approx(1.0)
    assert (result.n_units, result.n_ratings) == (18, 36)


def test_disagreeing_rankers_give_the_alpha_of_their_ranks(ranking):
    """Two raters per item with opposite rankings: checked against the krippendorff package,
    one unit per (case, source)."""
    import krippendorff

    question = ranking.questions.get()
    first_ranks, second_ranks = [], []
    for item in Item.objects.filter(study=ranking):
        first, second = item.assignments.order_by("pk")
        wanted = {"Expert": 1, "Model-A": 2, "Model-B": 3}
        opposite = {label: 4 - rank for label, rank in wanted.items()}
        for assignment, ranks, column in [
            (first, wanted, first_ranks),
            (second, opposite, second_ranks),
        ]:
            answer = _rank_by_canonical(assignment, ranks)
            services.rating_save(assignment=assignment, question=question, answer=answer)
            column += [ranks[label] for label in SOURCES]
    run = TaskRun.objects.create(study=ranking, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    submit_rated(ranking)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    expected = krippendorff.alpha(
        reliability_data=[first_ranks, second_ranks], level_of_measurement="ordinal"
    )
    assert alpha_of(ranking).value == pytest.approx(expected)
    assert expected < 0


def test_exports_say_where_each_answer_sits_in_canonical_order(client, side_by_side, study_admin):
    overall = side_by_side.questions.get(key="overall")
    assignment = Assignment.objects.filter(study=side_by_side).exclude(order=[0, 1, 2]).first()
    services.rating_save(assignment=assignment, question=overall, answer=4, shown=0)
    rank = side_by_side.questions.get(key="rank")
    services.rating_save(assignment=assignment, question=rank, answer=[2, 1, 3])
    client.force_login(study_admin)
    body = body_text(client.get(reverse("study_ratings_csv", args=[side_by_side.token])))
    rows = {r["question"]: r for r in csv.DictReader(io.StringIO(body))}
    assert rows["overall"]["output_slot"] == str(assignment.order[0])
    assert rows["overall"]["shown_order"] == " ".join(map(str, assignment.order))
    assert rows["rank"]["output_slot"] == ""
    assert json.loads(rows["rank"]["answer"]) == [2, 1, 3]
    from rest_framework.authtoken.models import Token

    headers = {"Authorization": f"Token {Token.objects.create(user=study_admin).key}"}
    key = client.get(
        reverse("api-unblinding-list", args=[side_by_side.token]), headers=headers
    ).json()["results"]
    mine = next(r for r in key if r["item_token"] == rows["overall"]["item_token"])
    sources = json.loads(mine["sources"])
    assert sources == SOURCES
    assert sources[int(rows["overall"]["output_slot"])] == _labels(assignment)[0]


def test_question_kinds_must_fit_the_design(study_admin, side_by_side):
    absolute = services.study_create(creator=study_admin, title="Abs", question_prompt="Good?")
    with pytest.raises(ValidationError, match="ranking question needs"):
        services.question_add(study=absolute, draft=RANK)
    draft = services.study_create(
        creator=study_admin, title="SbS", question_prompt="Good?", design="side_by_side"
    )
    criteria = rubric.QuestionDraft(key="crit", prompt="Criteria", kind="criteria", level="ratio")
    with pytest.raises(ValidationError, match="one output at a time"):
        services.question_add(study=draft, draft=criteria)
    pairwise = rubric.QuestionDraft(
        key="pref",
        prompt="Pref",
        kind="pairwise",
        level="ordinal",
        scale=({"value": -1, "label": "B"}, {"value": 0, "label": "="}, {"value": 1, "label": "A"}),
    )
    with pytest.raises(ValidationError, match="needs a pairwise study"):
        services.question_add(study=draft, draft=pairwise)


def test_ranking_leaves_out_cases_with_one_output_and_refuses_crowded_screens(study_admin, raters):
    study = services.study_create(
        creator=study_admin, title="R", question_prompt="Rank", design="ranking", seed=3
    )
    content = _rows(2) + b"lonely,Question,Expert,Only one\n"
    services.study_import_file(study=study, filename="r.csv", content=content)
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    assert Item.objects.filter(study=study).count() == 2

    crowded = services.study_create(
        creator=study_admin, title="C", question_prompt="Rank", design="ranking", seed=3
    )
    many = [f"Model-{i}" for i in range(9)]
    services.study_import_file(study=crowded, filename="c.csv", content=_rows(1, many))
    services.study_add_raters(study=crowded, users=raters)
    with pytest.raises(ValidationError, match="at most 8"):
        services.study_open(study=crowded)
    crowded.refresh_from_db()
    assert crowded.status == Study.Status.DRAFT
    assert not Item.objects.filter(study=crowded).exists()


@pytest.mark.parametrize("seed", range(4))
def test_raters_joining_later_keep_every_order_and_the_manifest_digest(study_admin, seed):
    from tests.test_pairwise import stored_digest

    raters = [UserFactory(username=f"r{i}") for i in range(3)]
    study = _study(study_admin, raters, design="side_by_side", n_cases=5, seed=seed)
    assert study.manifest_hash == stored_digest(study)
    orders = dict(Assignment.objects.filter(study=study).values_list("token", "order"))
    services.study_add_raters(study=study, users=[UserFactory(username="late")])
    study.refresh_from_db()
    assert study.manifest_hash == stored_digest(study)
    assert dict(Assignment.objects.filter(study=study).values_list("token", "order")) == orders
    assert Assignment.objects.filter(study=study, rater__username="late").exists()


@pytest.mark.parametrize("design", ["side_by_side", "ranking"])
def test_nothing_a_rater_of_a_set_study_reaches_names_a_source(client, study_admin, raters, design):
    bump_sequences()
    study = _study(study_admin, raters, design=design, n_cases=3)
    rater = raters[0]
    client.force_login(rater)
    pages = crawl(client, ["/", reverse("rater_home")])
    item_pages = [u for u in pages if u.count("/") == 4 and u.startswith(f"/rate/{study.token}/")]
    assert len(item_pages) == 2
    for url in item_pages:
        posts = [{"question": "rank", "rank-A": "2", "rank-B": "1", "rank-C": "3"}]
        if design == "side_by_side":
            posts += [{"question": "overall", "answer": "4", "about": x} for x in "ABC"]
        for data in posts:
            response = client.post(url, data, headers={"HX-Request": "true"})
            assert "Saved" in response.content.decode(), response.content[:300]
            pages[f"POST {url} {data}"] = as_text(response)
    pages.update({f"again {url}": body for url, body in crawl(client, ["/rate/"]).items()})
    assert_blind(pages, study, rater)


def test_the_history_says_which_response_each_change_was_about(side_by_side):
    from annotation import selectors

    overall = side_by_side.questions.get(key="overall")
    assignment = Assignment.objects.filter(study=side_by_side).exclude(order=[0, 1, 2]).first()
    for answer in (2, 4):
        services.rating_save(assignment=assignment, question=overall, answer=answer, shown=1)
    services.rating_save(assignment=assignment, question=overall, answer=5, shown=2)
    rows = list(selectors.study_rating_history(study=side_by_side))
    # Oldest answer first: the response shown as B (rated twice), then the one shown as C.
    b, c = assignment.order[1], assignment.order[2]
    assert [(r["output_slot"], r["old_answer"], r["new_answer"]) for r in rows] == [
        (b, "", 2),
        (b, 2, 4),
        (c, "", 5),
    ]
