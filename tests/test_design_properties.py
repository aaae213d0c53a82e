"""Properties of the assignment engine over many generated designs (hypothesis)."""

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from annotation.core.design import (
    DesignItem,
    Placement,
    QualityControl,
    add_quality_control,
    add_raters,
    assign,
    reassign,
)

SOURCES = ["model-a", "model-b", "expert", "model-c"]


@st.composite
def designs(draw, *, slots: tuple[int, int] = (1, 1)):
    n_raters = draw(st.integers(min_value=1, max_value=7))
    k = draw(st.integers(min_value=1, max_value=n_raters))
    n_items = draw(st.integers(min_value=1, max_value=40))
    items = []
    for i in range(n_items):
        width = draw(st.integers(min_value=slots[0], max_value=slots[1]))
        sources = tuple(draw(st.permutations(SOURCES))[:width]) if width > 1 else ()
        items.append(DesignItem(f"case{i}", sources))
    raters = [f"R{i}" for i in range(1, n_raters + 1)]
    seed = draw(st.integers(min_value=0, max_value=2**31 - 1))
    return items, raters, k, seed


def by_item(placements) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for p in placements:
        groups.setdefault(p.item, []).append(p.rater)
    return groups


def check_positions(placements) -> None:
    positions: dict[str, list[int]] = {}
    for p in placements:
        positions.setdefault(p.rater, []).append(p.position)
    for rater, seen in positions.items():
        assert sorted(seen) == list(range(1, len(seen) + 1)), rater


@settings(max_examples=150, deadline=None)
@given(designs(slots=(1, 4)))
def test_every_item_gets_exactly_k_distinct_raters_and_loads_differ_by_at_most_one(design):
    items, raters, k, seed = design
    manifest = assign(items=items, raters=raters, k=k, seed=seed)
    groups = by_item(manifest.placements)
    assert set(groups) == {item.key for item in items}
    assert all(len(set(rs)) == len(rs) == k for rs in groups.values())
    loads = Counter(p.rater for p in manifest.placements)
    assert max(loads.values()) - min(loads.get(r, 0) for r in raters) <= 1
    check_positions(manifest.placements)


@settings(max_examples=150, deadline=None)
@given(designs(slots=(2, 2)))
def test_pairwise_sides_are_balanced_within_one_for_every_source_pair(design):
    items, raters, k, seed = design
    manifest = assign(items=items, raters=raters, k=k, seed=seed)
    first: dict[frozenset, Counter] = {}
    for p in manifest.placements:
        assert len(p.order) == 2
        first.setdefault(frozenset(p.order), Counter())[p.order[0]] += 1
    for pair, counts in first.items():
        a, b = sorted(pair)
        assert abs(counts[a] - counts[b]) <= 1, (pair, counts)


@settings(max_examples=100, deadline=None)
@given(designs(slots=(2, 4)))
def test_every_shown_order_is_the_items_sources(design):
    items, raters, k, seed = design
    manifest = assign(items=items, raters=raters, k=k, seed=seed)
    sources = {item.key: set(item.sources) for item in items}
    for p in manifest.placements:
        assert set(p.order) == sources[p.item]
        assert len(p.order) == len(sources[p.item])


@settings(max_examples=100, deadline=None)
@given(designs(slots=(1, 3)), st.randoms(use_true_random=False))
def test_the_manifest_is_reproducible_from_its_seed_whatever_the_input_order(design, shuffler):
    items, raters, k, seed = design
    first = assign(items=items, raters=raters, k=k, seed=seed)
    shuffled_items, shuffled_raters = list(items), list(raters)
    shuffler.shuffle(shuffled_items)
    shuffler.shuffle(shuffled_raters)
    again = assign(items=shuffled_items, raters=shuffled_raters, k=k, seed=seed)
    assert sorted(first.placements, key=repr) == sorted(again.placements, key=repr)
    assert first.digest == again.digest


def test_the_digest_changes_with_any_placement():
    manifest = assign(items=[DesignItem("a"), DesignItem("b")], raters=["R1", "R2"], k=1, seed=5)
    swapped = [Placement(p.rater, p.item, 3 - p.position, p.order) for p in manifest.placements]
    other = type(manifest)(seed=5, k=1, placements=tuple(swapped))
    assert other.digest != manifest.digest
    assert len(manifest.digest) == 64


@settings(max_examples=150, deadline=None)
@given(
    designs(slots=(1, 2)),
    st.integers(min_value=1, max_value=3),
    st.floats(min_value=0, max_value=1),
)
def test_adding_raters_moves_only_unstarted_work_and_keeps_k_distinct_raters(
    design, n_new, started_share
):
    items, raters, k, seed = design
    before = list(assign(items=items, raters=raters, k=k, seed=seed).placements)
    # Each rater has started the first part of their order.
    started = {
        p.key
        for p in before
        if p.position <= started_share * sum(q.rater == p.rater for q in before)
    }
    movable = {p.key for p in before} - started
    new = [f"N{i}" for i in range(1, n_new + 1)]
    after = add_raters(placements=before, new_raters=new, movable=movable, seed=seed)

    kept = set(after)
    for p in before:
        if p.key in started:
            assert p in kept  # started work never moves or changes position
    groups = by_item(after)
    assert all(len(set(rs)) == len(rs) == k for rs in groups.values())
    assert sorted(p.order for p in after) == sorted(p.order for p in before)
    check_positions(after)
    if not started:
        # With nothing started, new raters always fill up to within one of the rest: a rater
        # with more items than a newcomer has one the newcomer lacks.
        loads = Counter(p.rater for p in after)
        assert max(loads.values()) - min(loads.get(r, 0) for r in [*raters, *new]) <= 1


def test_adding_a_rater_balances_a_simple_study():
    items = [DesignItem(f"c{i}") for i in range(12)]
    before = list(assign(items=items, raters=["R1", "R2", "R3"], k=1, seed=1).placements)
    after = add_raters(
        placements=before,
        new_raters=["R4"],
        movable={p.key for p in before},
        seed=1,
    )
    assert Counter(p.rater for p in after) == {"R1": 3, "R2": 3, "R3": 3, "R4": 3}


@settings(max_examples=150, deadline=None)
@given(designs(slots=(1, 2)), st.floats(min_value=0, max_value=1), st.data())
def test_reassigning_a_raters_work_moves_only_what_they_had_not_started(design, share, data):
    items, raters, k, seed = design
    before = list(assign(items=items, raters=raters, k=k, seed=seed).placements)
    leaver = data.draw(st.sampled_from(raters))
    mine = [p for p in before if p.rater == leaver]
    started = {p.key for p in before if p.position <= share * len(mine) or p.rater != leaver}
    movable = {p.key for p in before} - started
    after = reassign(placements=before, rater=leaver, raters=raters, movable=movable, seed=seed)

    kept = set(after)
    for p in before:
        if p.key in started:
            assert p in kept
    groups = by_item(after)
    assert all(len(set(rs)) == len(rs) == k for rs in groups.values())
    check_positions(after)
    still_mine = {p.item for p in after if p.rater == leaver}
    # Whatever stays with the leaver is started work, or an item every other rater already has.
    for item in still_mine:
        assert (leaver, item, "study") in started or set(groups[item]) == set(raters)


@st.composite
def quality(draw):
    n_training = draw(st.integers(min_value=0, max_value=3))
    n_checks = draw(st.integers(min_value=0, max_value=3))
    return QualityControl(
        training=tuple(DesignItem(f"train{i}") for i in range(n_training)),
        checks=tuple(DesignItem(f"check{i}", ("expert", "model-a")) for i in range(n_checks)),
        repeats=draw(st.integers(min_value=0, max_value=4)),
        min_gap=draw(st.integers(min_value=1, max_value=6)),
    )


@settings(max_examples=200, deadline=None)
@given(designs(slots=(1, 3)), quality())
def test_quality_control_surrounds_each_raters_own_order(design, qc):
    items, raters, k, seed = design
    study = list(assign(items=items, raters=raters, k=k, seed=seed).placements)
    after = add_quality_control(study, qc, seed=seed)
    assert after == add_quality_control(study, qc, seed=seed)  # reproducible from the seed
    check_positions(after)
    for rater in {p.rater for p in study}:
        mine = sorted((p for p in after if p.rater == rater), key=lambda p: p.position)
        own = sorted((p for p in study if p.rater == rater), key=lambda p: p.position)
        n_train = len(qc.training)
        # Training first, in its order; the study order otherwise untouched.
        assert [(p.item, p.kind) for p in mine[:n_train]] == [
            (t.key, "training") for t in qc.training
        ]
        assert [(p.item, p.order) for p in mine if p.kind == "study"] == [
            (p.item, p.order) for p in own
        ]
        # Every attention check once, hidden after the first study item.
        checks = [p for p in mine if p.kind == "attention"]
        assert sorted(p.item for p in checks) == sorted(c.key for c in qc.checks)
        assert all(p.position > n_train + 1 for p in checks)
        assert all(sorted(p.order) == ["expert", "model-a"] for p in checks)
        # Repeats: as many as the gap allows, each long enough after its original, same order.
        repeats = [p for p in mine if p.kind == "repeat"]
        assert len(repeats) == min(qc.repeats, max(0, len(own) - qc.min_gap))
        assert len({p.item for p in repeats}) == len(repeats)
        first = {p.item: p for p in mine if p.kind == "study"}
        for repeat in repeats:
            assert repeat.position - first[repeat.item].position > qc.min_gap
            assert repeat.order == first[repeat.item].order
        # A rater's draws do not depend on who else is in the study.
        alone = add_quality_control(own, qc, seed=seed)
        assert alone == mine


@settings(max_examples=100, deadline=None)
@given(designs(slots=(1, 2)), quality(), st.integers(min_value=1, max_value=2))
def test_raters_joining_later_get_their_own_quality_control_and_nobody_elses_moves(
    design, qc, n_new
):
    items, raters, k, seed = design
    study = list(assign(items=items, raters=raters, k=k, seed=seed).placements)
    before = add_quality_control(study, qc, seed=seed)
    new = [f"N{i}" for i in range(1, n_new + 1)]
    after = add_raters(
        placements=before,
        new_raters=new,
        movable={p.key for p in before},
        seed=seed,
        quality=qc,
    )
    check_positions(after)
    check_quality_layout(after, qc.min_gap)
    studied = by_item([p for p in after if p.kind == "study"])
    assert all(len(set(rs)) == len(rs) == k for rs in studied.values())
    for rater in raters:
        kept = [(p.item, p.kind) for p in before if p.rater == rater and p.kind != "repeat"]
        now = [(p.item, p.kind) for p in after if p.rater == rater]
        assert [x for x in now if x[1] != "repeat"] == [
            x for x in kept if x[1] != "study" or x in now
        ]
        # A repeat stays only with the original it repeats.
        mine = {p.item for p in after if p.rater == rater and p.kind == "study"}
        assert all(p.item in mine for p in after if p.rater == rater and p.kind == "repeat")
    for newcomer in new:
        theirs = [p for p in after if p.rater == newcomer]
        own = [p for p in theirs if p.kind == "study"]
        assert theirs == add_quality_control(own, qc, seed=seed, raters=[newcomer])
    check_quality_layout(after, qc.min_gap)


def check_quality_layout(placements, min_gap: int, *, late_starters=()) -> None:
    """Every repeat comes more than `min_gap` after its rater's first sight of the item, and
    no attention check comes before a rater's first study item, unless the rater had none when
    their quality control was laid out (`late_starters`: their work came later, at the end)."""
    for rater in {p.rater for p in placements}:
        mine = sorted((p for p in placements if p.rater == rater), key=lambda p: p.position)
        first = {p.item: p.position for p in mine if p.kind == "study"}
        for repeat in (p for p in mine if p.kind == "repeat"):
            assert repeat.position - first[repeat.item] > min_gap, (rater, repeat)
        checks = [p.position for p in mine if p.kind == "attention"]
        if first and checks and rater not in late_starters:
            assert min(checks) > min(first.values()), rater


@settings(max_examples=150, deadline=None)
@given(designs(slots=(1, 2)), quality(), st.floats(min_value=0, max_value=1), st.data())
def test_reassigning_keeps_the_leavers_order_and_drops_only_repeats_of_what_moved(
    design, qc, share, data
):
    items, raters, k, seed = design
    study = list(assign(items=items, raters=raters, k=k, seed=seed).placements)
    before = add_quality_control(study, qc, seed=seed, raters=raters)
    leaver = data.draw(st.sampled_from(raters))
    mine = sorted((p for p in before if p.rater == leaver), key=lambda p: p.position)
    started = {p.key for p in mine[: int(share * len(mine))]}
    started |= {p.key for p in before if p.rater != leaver}
    movable = {p.key for p in before} - started
    after = reassign(
        placements=before,
        rater=leaver,
        raters=raters,
        movable=movable,
        seed=seed,
        min_gap=qc.min_gap,
    )
    check_positions(after)
    # Raters idle at first got their work at the end; the leaver's checks no longer matter.
    idle = set(raters) - {p.rater for p in study}
    check_quality_layout(after, qc.min_gap, late_starters=idle | {leaver})
    kept = [(p.item, p.kind) for p in sorted(after, key=lambda p: p.position) if p.rater == leaver]
    moved = {p.item for p in mine if p.kind == "study"} - {
        item for item, kind in kept if kind == "study"
    }
    assert kept == [
        (p.item, p.kind) for p in mine if not (p.item in moved and p.kind in ("study", "repeat"))
    ]
    for p in mine:
        if p.key in started:
            assert (p.item, p.kind) in kept  # started work stays, repeats included
    studied = by_item([p for p in after if p.kind == "study"])
    assert all(len(set(rs)) == len(rs) == k for rs in studied.values())
