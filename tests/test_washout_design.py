"""Re-reads after a washout in the assignment design (annotation.core.design): a second reading
session after all of each rater's first, seeded, balanced across raters, carried through raters
joining and leaving. Plain data, no database."""

from collections import Counter

import pytest

from annotation.core import design


def _manifest(n_items=12, raters=("R1", "R2", "R3", "R4"), k=2, seed=5, retests=3, repeats=0):
    items = [design.DesignItem(f"c{i}", ("s0", "s1")) for i in range(n_items)]
    manifest = design.assign(items=items, raters=list(raters), k=k, seed=seed)
    quality = design.QualityControl(
        training=(design.DesignItem("t1", ("s0", "s1")),),
        checks=(design.DesignItem("a1", ("s0", "s1")),),
        repeats=repeats,
        min_gap=1,
        retests=retests,
    )
    placements = design.add_quality_control(
        manifest.placements, quality, seed=seed, raters=list(raters)
    )
    return design.Manifest(seed=seed, k=k, placements=tuple(placements))


def _by_rater(manifest):
    groups = {}
    for p in sorted(manifest.placements, key=lambda p: (p.rater, p.position)):
        groups.setdefault(p.rater, []).append(p)
    return groups


def test_each_rater_rereads_their_own_items_in_session_two_after_all_of_session_one():
    manifest = _manifest(retests=3, repeats=1)
    for rater, sequence in _by_rater(manifest).items():
        assert [p.position for p in sequence] == list(range(1, len(sequence) + 1))
        sessions = [p.session for p in sequence]
        assert sessions == sorted(sessions), rater  # session 2 only after all of session 1
        second = [p for p in sequence if p.session == 2]
        assert [p.kind for p in second] == [design.RETEST] * 3
        assert {p.kind for p in sequence if p.session == 1} == {
            design.TRAINING,
            design.ATTENTION,
            design.STUDY,
            design.REPEAT,
        }
        firsts = {p.item: p for p in sequence if p.kind == design.STUDY}
        repeated = {p.item for p in sequence if p.kind == design.REPEAT}
        for reread in second:
            # The rater's own item, not one they also see as a hidden repeat, shown as before.
            assert reread.item in firsts
            assert reread.item not in repeated
            assert reread.order == firsts[reread.item].order
        assert len({p.item for p in second}) == 3


def test_the_same_seed_gives_the_same_rereads_and_another_seed_others():
    assert _manifest(seed=5).digest == _manifest(seed=5).digest
    rereads = {p.key for p in _manifest(seed=5).placements if p.kind == design.RETEST}
    others = {p.key for p in _manifest(seed=6).placements if p.kind == design.RETEST}
    assert rereads != others


def test_rereads_leave_the_first_session_as_it_was_without_them():
    without = _manifest(retests=0, repeats=2)
    with_rereads = _manifest(retests=2, repeats=2)
    first = [p for p in with_rereads.placements if p.session == 1]
    assert set(first) == set(without.placements)
    assert without.digest != with_rereads.digest


def test_the_digest_tells_sessions_apart():
    manifest = _manifest(retests=1)
    moved = tuple(
        design.Placement(p.rater, p.item, p.position, p.order, p.kind, session=3)
        if p.kind == design.RETEST
        else p
        for p in manifest.placements
    )
    assert design.Manifest(manifest.seed, manifest.k, moved).digest != manifest.digest


@pytest.mark.parametrize(
    ("n_items", "n_raters", "k", "retests"), [(10, 4, 4, 5), (12, 4, 2, 3), (9, 3, 3, 2)]
)
def test_each_item_is_reread_by_as_few_raters_as_the_design_allows(n_items, n_raters, k, retests):
    raters = [f"R{i}" for i in range(1, n_raters + 1)]
    manifest = _manifest(n_items=n_items, raters=raters, k=k, retests=retests)
    counts = Counter(p.item for p in manifest.placements if p.kind == design.RETEST)
    assert sum(counts.values()) == n_raters * retests
    # Every rater holds every item or the items are spread evenly: the fewest possible re-reads
    # per item is the total spread over the items.
    assert max(counts.values()) == -(-n_raters * retests // n_items)


def test_a_rater_joining_later_gets_rereads_of_items_fewest_raters_reread():
    manifest = _manifest(n_items=8, raters=("R1", "R2"), k=1, retests=2)
    quality = design.QualityControl(retests=2, min_gap=1)
    everyone = {(p.rater, p.item, p.kind) for p in manifest.placements}
    after = design.add_raters(
        placements=manifest.placements,
        new_raters=["R3"],
        movable=everyone,
        seed=5,
        quality=quality,
    )
    mine = [p for p in after if p.rater == "R3"]
    rereads = [p for p in mine if p.kind == design.RETEST]
    assert len(rereads) == 2
    assert all(p.session == 2 for p in rereads)
    assert max(p.position for p in mine if p.session == 1) < min(p.position for p in rereads)
    own = {p.item for p in mine if p.kind == design.STUDY}
    assert {p.item for p in rereads} <= own
    # A donor's re-read of an item that moved away went with it.
    for p in after:
        if p.kind == design.RETEST:
            assert (p.rater, p.item, design.STUDY) in {q.key for q in after}


def test_reassigning_a_rater_drops_the_rereads_of_items_that_moved():
    manifest = _manifest(n_items=8, raters=("R1", "R2", "R3"), k=1, retests=2)
    everyone = {p.key for p in manifest.placements}
    after = design.reassign(
        placements=manifest.placements,
        rater="R1",
        raters=["R1", "R2", "R3"],
        movable=everyone,
        seed=5,
        min_gap=1,
    )
    left = [p for p in after if p.rater == "R1"]
    assert not [p for p in left if p.kind in (design.STUDY, design.RETEST)]
    held = {(p.rater, p.item) for p in after if p.kind == design.STUDY}
    assert all((p.rater, p.item) in held for p in after if p.kind == design.RETEST)


@pytest.mark.parametrize(
    ("retests", "washout", "field"),
    [(1, 0, "washout_days"), (0, 400, "washout_days"), (2, 14, None), (0, 0, None)],
)
def test_rereads_need_a_washout(retests, washout, field):
    problems = design.washout_problems(retests=retests, washout_days=washout)
    assert list(problems) == ([field] if field else [])


def test_work_handed_on_joins_the_takers_first_session_not_after_their_rereads():
    manifest = _manifest(n_items=8, raters=("R1", "R2", "R3"), k=1, retests=2)
    everyone = {p.key for p in manifest.placements}
    after = design.reassign(
        placements=manifest.placements,
        rater="R1",
        raters=["R1", "R2", "R3"],
        movable=everyone,
        seed=5,
        min_gap=1,
    )
    for rater in ("R2", "R3"):
        mine = sorted((p for p in after if p.rater == rater), key=lambda p: p.position)
        sessions = [p.session for p in mine]
        assert sessions == sorted(sessions), rater
        assert [p.kind for p in mine if p.session == 2] == [design.RETEST] * 2
    assert len([p for p in after if p.rater != "R1" and p.kind == design.STUDY]) == 8


def test_work_handed_on_never_goes_to_a_rater_closed_to_session_one():
    manifest = _manifest(n_items=8, raters=("R1", "R2", "R3"), k=1, retests=2)
    everyone = {p.key for p in manifest.placements}
    before = _by_rater(manifest)
    after = design.reassign(
        placements=manifest.placements,
        rater="R1",
        raters=["R1", "R2", "R3"],
        movable=everyone,
        seed=5,
        min_gap=1,
        closed={"R2"},
    )
    mine = sorted((p for p in after if p.rater == "R2"), key=lambda p: p.position)
    assert [(p.item, p.kind, p.session) for p in mine] == [
        (p.item, p.kind, p.session) for p in before["R2"]
    ]
    studies = {r: [p.item for p in ps if p.kind == design.STUDY] for r, ps in before.items()}
    taken = {p.item for p in after if p.rater == "R3" and p.kind == design.STUDY}
    assert taken == set(studies["R3"]) | set(studies["R1"])  # all of R1's went to R3
    # With R3 closed too no one may take R1's items: they stay with R1.
    stuck = design.reassign(
        placements=manifest.placements,
        rater="R1",
        raters=["R1", "R2", "R3"],
        movable=everyone,
        seed=5,
        min_gap=1,
        closed={"R2", "R3"},
    )
    assert set(stuck) == set(manifest.placements)
