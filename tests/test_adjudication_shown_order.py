"""The adjudicator's responses are lettered in a seeded order per item (as raters' sides are),
never in the sources' canonical order: the readers' pairwise answers read in that order, and a
reference posted in it is stored in canonical order."""

from collections import Counter, defaultdict

import pytest

from annotation import services
from annotation.core import adjudication as core
from annotation.demo import PAIRWISE_TITLE, load_demo
from annotation.models import Rating, Study
from annotation.selectors import adjudication as selectors
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _answer(question) -> object:
    if question.kind == "pairwise":
        return 1  # "Response A is better", whichever source A is
    if question.kind == "multiple_choice":
        return []
    if question.kind == "yes_no":
        return "yes"
    if question.kind == "number":
        return question.minimum if question.minimum is not None else 0
    return question.scale[0]["value"]


@pytest.fixture
def pairwise(client):
    load_demo()
    study = Study.objects.get(title=PAIRWISE_TITLE)
    pairwise = study.questions.filter(kind="pairwise").order_by("order").first()
    for assignment in study.assignments.filter(kind="study", submitted_at__isnull=True):
        for question in study.questions.filter(required=True):
            services.rating_save(assignment=assignment, question=question, answer=_answer(question))
        services.assignment_submit(assignment=assignment)
    admin = study.memberships.get(role="admin").user
    services.adjudication_select(study=study, by=admin, mode="all")
    senior = UserFactory(username="senior")
    services.adjudicator_add(study=study, user=senior)
    client.force_login(senior)
    return study, pairwise


def test_response_a_is_not_always_the_same_source(client, pairwise):
    study, question = pairwise
    adjudications = list(
        study.adjudications.select_related("item__output__source", "item__output_b__source")
    )
    assert len(adjudications) >= 8
    first = defaultdict(Counter)
    orientations = set()
    for adjudication in adjudications:
        item = adjudication.item
        url = f"/api/v1/adjudicate/{study.token}/items/{adjudication.token}/"
        body = client.get(url).json()
        shown_a = body["outputs"][0][1]
        canonical_first = shown_a == item.output.text
        orientations.add(canonical_first)
        pair = (item.output.source.label, item.output_b.source.label)
        first[pair][(item.output if canonical_first else item.output_b).source.label] += 1
        # Each reader's preference reads in the shown order: positive means Response A.
        ratings = Rating.objects.filter(
            assignment__item=item, assignment__kind="study", question=question
        )
        codes = ratings.values_list("value", flat=True)
        expected = sorted(int(c if canonical_first else -c) for c in codes)
        prompt = question.prompt
        shown = sorted(
            int(answer.split(" ")[0])
            for reader in body["readers"]
            for asked, answer in reader["answers"]
            if asked == prompt
        )
        assert shown == expected
    # Every source is Response A on some items (in canonical order the last label never is),
    # and of the pairs some are shown in canonical order, some the other way round. Item
    # tokens are random, so these hold with probability 1 - 2**-15 or so, not certainty.
    sources = set(study.sources.values_list("label", flat=True))
    assert len(sources) >= 2
    assert {label for shown_first in first.values() for label in shown_first} == sources
    assert len(orientations) == 2


def test_a_reference_posted_in_the_shown_order_is_stored_in_canonical_order(client, pairwise):
    study, question = pairwise
    seen = set()
    for adjudication in study.adjudications.select_related("item__output"):
        item = adjudication.item
        flipped = core.pairwise_flipped(selectors.shown_places(study=study, item=item))
        seen.add(flipped)
        answers = {q.key: _answer(q) for q in selectors.reference_questions(study=study)}
        url = f"/api/v1/adjudicate/{study.token}/items/{adjudication.token}/reference/"
        body = {"answers": answers, "reason": "A reads better."}
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 200, response.content
        adjudication.refresh_from_db()
        canonical = -1 if flipped else 1
        assert adjudication.answers[question.key] == canonical
        assert adjudication.values[question.key] == float(canonical)
        # The page checks the radio of the answer as posted, in the shown order.
        shown = {q["key"]: q["answer"] for q in response.json()["questions"]}
        assert shown[question.key] == 1
        first_shown = response.json()["outputs"][0][1]
        assert (first_shown == item.output.text) is (not flipped)
    assert seen == {True, False}


def test_the_page_says_the_order_is_drawn_not_as_the_raters_saw_it(client, pairwise):
    study, _ = pairwise
    adjudication = study.adjudications.first()
    page = client.get(f"/adjudicate/{study.token}/{adjudication.token}/").content.decode()
    assert "as the raters saw them" not in page
    assert "in an order drawn for this item" in page
