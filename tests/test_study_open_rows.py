"""study_open writes a million assignments as plain rows: through COPY on PostgreSQL and
bulk_create elsewhere. Both must store exactly what the manifest says, in the same order."""

import gc

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation import services
from annotation.core import memory
from annotation.models import TOKEN_ALPHABET, Assignment, Study
from annotation.services import studies
from annotation.services.studies import assignments
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HEADER = "case_id,input,source,output,role,expected,feedback\n"


def _rows(sources: tuple[str, ...], *, quality: bool, cases: int = 7) -> bytes:
    rows = []
    if quality:  # one output each: absolute only
        rows += [
            "t1,Training question,Writer,Training answer,training,,Read it all.",
            'a1,Attention question,Writer,Please answer 1,attention,"{""overall"": 1}",',
        ]
    for case in range(cases):
        rows += [f"c{case},Question {case},{s},Answer {case} by {s},,," for s in sources]
    return (HEADER + "\n".join(rows) + "\n").encode()


def _drafted(admin, raters, design: str, sources, *, quality: bool, cases: int = 7) -> Study:
    study = services.study_create(
        creator=admin,
        title=design,
        question_prompt="How good is it?",
        raters_per_item=2,
        repeats_per_rater=2 if quality else 0,
        seed=31,
        design=design,
    )
    content = _rows(sources, quality=quality, cases=cases)
    services.study_import_file(study=study, filename="s.csv", content=content)
    services.study_add_raters(study=study, users=raters)
    return study


def _opened(admin, raters, design: str, sources: tuple[str, ...], *, quality: bool) -> Study:
    study = _drafted(admin, raters, design, sources, quality=quality)
    services.study_open(study=study)
    study.refresh_from_db()
    return study


def stored(study: Study) -> list[tuple]:
    """Every assignment in the order it was written, in terms that mean the same in any copy
    of the study: rater pseudonym, item key, place, kind, shown order, what a repeat repeats."""
    names = dict(study.memberships.values_list("user_id", "pseudonym"))
    rows = study.assignments.select_related(
        "item__output__case", "item__output__source", "item__output_b__source", "repeat_of"
    ).prefetch_related("item__members__output__source")
    described = {}
    for a in rows.order_by("pk"):
        original = described.get(a.repeat_of_id, (None,))[:3]
        described[a.pk] = (
            names[a.rater_id],
            studies.item_key(a.item),
            a.position,
            a.kind,
            a.flipped,
            a.order,
            a.session,
            original,
            a.time_on_task_ms,
            a.first_opened_at,
            a.submitted_at,
        )
    return list(described.values())


CASES = [
    (Study.Design.ABSOLUTE, ("Model-A", "Model-B"), True),
    (Study.Design.PAIRWISE, ("Model-A", "Model-B", "Model-C"), False),
    (Study.Design.SIDE_BY_SIDE, ("Model-A", "Model-B", "Model-C"), False),
]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="COPY is PostgreSQL's: elsewhere study_open has only the bulk_create path, so there "
    "is no second path to compare (CI runs this on PostgreSQL)",
)
@pytest.mark.parametrize(("design", "sources", "quality"), CASES)
def test_copy_and_bulk_create_store_the_same_assignments(
    monkeypatch, study_admin, design, sources, quality
):
    raters = [UserFactory(username=f"r{i}") for i in range(3)]
    copied = _opened(study_admin, raters, design, sources, quality=quality)
    monkeypatch.setattr(assignments, "_copies", lambda: False)
    created = _opened(study_admin, raters, design, sources, quality=quality)
    assert stored(copied) == stored(created)
    assert copied.manifest_hash == created.manifest_hash
    kinds = {row[3] for row in stored(copied)}
    assert kinds == ({"study", "training", "attention", "repeat"} if quality else {"study"})


@pytest.mark.parametrize(("design", "sources", "quality"), CASES)
def test_assignments_left_pending_are_written_as_an_opening_writes_them(
    study_admin, design, sources, quality
):
    # A worker's opening stores each rater's placements and writes them after the study opens,
    # rater by rater: the same assignments in the end, repeats pointing at the same originals.
    raters = [UserFactory(username=f"r{i}") for i in range(3)]
    at_once = _opened(study_admin, raters, design, sources, quality=quality)
    later = _drafted(study_admin, raters, design, sources, quality=quality)
    count = services.study_open(study=later, defer=True)
    later.refresh_from_db()
    assert later.status == Study.Status.OPEN
    assert not later.assignments.exists()
    assert later.pending_assignments.count() == 3
    for rater in raters:
        assignments.pending_assignments_write(study=later, rater_id=rater.pk)
    assert not later.pending_assignments.exists()
    assert later.assignments.count() == count
    in_place = sorted(stored(at_once), key=lambda row: (row[0], row[2]))
    assert sorted(stored(later), key=lambda row: (row[0], row[2])) == in_place
    assert later.manifest_hash == at_once.manifest_hash
    # Written once: a second call (the job behind a rater's first page) writes nothing.
    assert assignments.pending_assignments_write(study=later, rater_id=raters[0].pk) == 0
    assert later.assignments.count() == count


def test_retests_after_a_washout_left_pending_are_written_as_an_opening_writes_them(study_admin):
    # Re-reads in a second session, each pointing at the rater's own first read.
    raters = [UserFactory(username=f"r{i}") for i in range(3)]
    copies = []
    for defer in (False, True):
        study = services.study_create(
            creator=study_admin,
            title=f"Washout, deferred {defer}",
            question_prompt="How good is it?",
            raters_per_item=2,
            retests_per_rater=2,
            washout_days=14,
            seed=31,
        )
        content = _rows(("A", "B"), quality=True)
        services.study_import_file(study=study, filename="s.csv", content=content)
        services.study_add_raters(study=study, users=raters)
        services.study_open(study=study, defer=defer)
        services.pending_assignments_write_all(study)
        study.refresh_from_db()
        copies.append(study)
    at_once, later = (sorted(stored(s), key=lambda row: (row[0], row[2])) for s in copies)
    assert later == at_once
    assert {row[6] for row in at_once} == {1, 2}  # two sessions
    assert any(row[3] == "retest" for row in at_once)
    assert copies[0].manifest_hash == copies[1].manifest_hash


def test_every_stored_placement_has_its_shown_order(study_admin):
    raters = [UserFactory(username=f"r{i}") for i in range(3)]
    pairs = stored(_opened(study_admin, raters, Study.Design.PAIRWISE, ("A", "B"), quality=False))
    assert {row[4] for row in pairs} == {True, False}  # counterbalanced: some flipped
    sets = _opened(study_admin, raters, Study.Design.RANKING, ("A", "B", "C"), quality=False)
    orders = {tuple(row[5]) for row in stored(sets)}
    assert len(orders) > 1
    assert all(sorted(order) == [0, 1, 2] for order in orders)


def test_repeats_point_at_the_raters_own_first_sight(study_admin):
    raters = [UserFactory(username=f"r{i}") for i in range(3)]
    study = _opened(study_admin, raters, Study.Design.ABSOLUTE, ("A", "B"), quality=True)
    repeats = Assignment.objects.filter(study=study, kind=Assignment.Kind.REPEAT)
    assert repeats.count() == 6
    for repeat in repeats.select_related("repeat_of"):
        first = repeat.repeat_of
        assert (first.rater_id, first.item_id, first.kind) == (
            repeat.rater_id,
            repeat.item_id,
            Assignment.Kind.STUDY,
        )
        assert first.position + 5 < repeat.position


def test_tokens_are_new_tokens_alike():
    tokens = studies.new_tokens(5000)
    assert len(tokens) == len(set(tokens)) == 5000
    assert {len(token) for token in tokens} == {16}
    # Every letter and digit, nothing else, each about as often as the others.
    counts = {c: 0 for c in TOKEN_ALPHABET}
    for token in tokens:
        for c in token:
            counts[c] += 1
    assert set("".join(tokens)) == set(TOKEN_ALPHABET)
    expected = 16 * 5000 / 62
    assert all(abs(n - expected) < 6 * expected**0.5 for n in counts.values())


def test_opened_assignments_have_distinct_tokens(open_study):
    tokens = list(open_study.assignments.values_list("token", flat=True))
    assert len(tokens) == len(set(tokens)) == 12
    assert all(len(t) == 16 and set(t) <= set(TOKEN_ALPHABET) for t in tokens)


def test_a_raters_tokens_follow_no_order_of_theirs(study_admin):
    # Random tokens, not sorted along the written rows: in a rater's own order a sorted run
    # would set apart the hidden repeats (written after the rest) and tell where they are.
    raters = [UserFactory(username=f"r{i}") for i in range(3)]
    study = _opened(study_admin, raters, Study.Design.ABSOLUTE, ("A", "B"), quality=True)
    for rater in raters:
        tokens = list(
            study.assignments.filter(rater=rater)
            .order_by("position")
            .values_list("token", flat=True)
        )
        assert len(tokens) >= 8
        assert tokens != sorted(tokens)
        assert tokens != sorted(tokens, reverse=True)


def _queries_to_open(admin, raters, design: str, sources, *, quality: bool, cases: int) -> int:
    study = _drafted(admin, raters, design, sources, quality=quality, cases=cases)
    with CaptureQueriesContext(connection) as queries:
        services.study_open(study=study)
    return len(queries)


@pytest.mark.parametrize(("design", "sources", "quality"), CASES)
def test_opening_reads_no_field_per_item(study_admin, design, sources, quality):
    # study_open reads only some fields of each case and output (OPENING_READS): one it left
    # out and then used would cost a query per item.
    raters = [UserFactory(username=f"r{i}") for i in range(3)]
    few = _queries_to_open(study_admin, raters, design, sources, quality=quality, cases=4)
    many = _queries_to_open(study_admin, raters, design, sources, quality=quality, cases=10)
    assert few == many


def _fail_without_collection() -> None:
    with memory.cycle_collection_paused():
        assert not gc.isenabled()
        raise RuntimeError


def test_the_cycle_collector_runs_again_after_opening(open_study):
    assert gc.isenabled()  # open_study has been opened
    with pytest.raises(RuntimeError):
        _fail_without_collection()
    assert gc.isenabled()
