"""The pure choice of adaptive extra raters (design.extra_placements)."""

import pytest

from annotation.core import design

ITEM = design.DesignItem("case-1\x1fA")


def choose(**options):
    base = {
        "item": ITEM,
        "loads": {"R1": 5, "R2": 5, "R3": 4, "R4": 6, "R5": 4},
        "last_positions": {"R1": 5, "R2": 7, "R3": 4, "R4": 6, "R5": 4},
        "seen": {"R1", "R2"},
        "m": 2,
        "seed": 1234,
    }
    return design.extra_placements(**{**base, **options})


def test_the_least_loaded_raters_who_have_not_seen_the_item_get_it_last():
    placements = choose()
    assert [(p.rater, p.position, p.kind) for p in placements] == [
        ("R3", 5, design.EXTRA),
        ("R5", 5, design.EXTRA),
    ]
    assert {p.item for p in placements} == {ITEM.key}


def test_never_a_rater_who_saw_the_item_and_at_most_m():
    placements = choose(m=10)
    assert sorted(p.rater for p in placements) == ["R3", "R4", "R5"]  # 3 eligible: a shortfall
    assert not {p.rater for p in placements} & {"R1", "R2"}


def test_ties_in_load_are_broken_by_the_seed_and_the_same_inputs_give_the_same_raters():
    loads = dict.fromkeys(["R1", "R2", "R3", "R4", "R5", "R6"], 3)
    picks = {
        seed: tuple(p.rater for p in choose(loads=loads, seen=(), m=2, seed=seed))
        for seed in range(40)
    }
    assert len(set(picks.values())) > 3  # the draw varies with the seed
    again = choose(loads=dict(reversed(loads.items())), seen=(), m=2, seed=7)
    assert tuple(p.rater for p in again) == picks[7]  # not with the order raters come in


def test_balanced_over_many_items():
    loads = dict.fromkeys([f"R{i}" for i in range(1, 7)], 0)
    for n in range(60):
        item = design.DesignItem(f"case-{n}\x1fA")
        for p in design.extra_placements(
            item=item, loads=loads, last_positions={}, seen=(), m=2, seed=5
        ):
            loads[p.rater] += 1
    assert set(loads.values()) == {20}


def test_a_pair_is_shown_in_a_seeded_order_of_its_sources():
    pair = design.DesignItem("case-1\x1fA\x1fB", ("A", "B"))
    first = choose(item=pair)
    assert all(sorted(p.order) == ["A", "B"] for p in first)
    assert [p.order for p in choose(item=pair)] == [p.order for p in first]


def test_m_below_one_is_refused():
    with pytest.raises(ValueError, match="m must be at least 1"):
        choose(m=0)


def test_work_handed_on_never_goes_to_a_rater_holding_an_extra_of_the_item():
    placements = [
        design.Placement("R1", "x", 1),
        design.Placement("R1", "y", 2),
        design.Placement("R2", "y", 1),
        design.Placement("R2", "z", 2),
        design.Placement("R3", "z", 1),
        design.Placement("R3", "x", 2, kind=design.EXTRA),
    ]
    movable = {p.key for p in placements if p.rater == "R1"}
    after = design.reassign(
        placements=placements, rater="R1", raters=["R1", "R2", "R3"], movable=movable, seed=3
    )
    holders = [(p.rater, p.kind) for p in after if p.item == "x"]
    assert sorted(holders) == [("R2", design.STUDY), ("R3", design.EXTRA)]


def test_the_extra_raters_of_a_pair_see_its_sides_in_turn():
    pair = design.DesignItem("case-1\x1fA\x1fB", ("A", "B"))
    for seed in range(20):
        placements = choose(item=pair, seed=seed, m=3, seen=())
        orders = [p.order for p in placements]
        # Rotations of one seeded order: A-B then B-A (or the reverse), then round again.
        assert orders[0] != orders[1]
        assert orders[2] == orders[0]
    trio = design.DesignItem("case-1\x1fA\x1fB\x1fC", ("A", "B", "C"))
    orders = [p.order for p in choose(item=trio, m=3, seen=())]
    assert len(set(orders)) == 3
    assert {o[0] for o in orders} == {"A", "B", "C"}


def test_a_stopping_raters_unstarted_extra_goes_to_a_rater_not_holding_the_item():
    placements = [
        design.Placement("R1", "x", 1),
        design.Placement("R1", "y", 2, kind=design.EXTRA),
        design.Placement("R2", "y", 1),
        design.Placement("R3", "x", 1),
        design.Placement("R4", "z", 1),
    ]
    movable = {p.key for p in placements if p.rater == "R1"} - {("R1", "x", design.STUDY)}
    after = design.reassign(
        placements=placements, rater="R1", raters=["R1", "R2", "R3", "R4"], movable=movable, seed=1
    )
    extras = [(p.rater, p.item, p.position) for p in after if p.kind == design.EXTRA]
    # R2 holds y already; R3 and R4 may take it: R4, the less loaded after the draw, or R3.
    assert len(extras) == 1
    assert extras[0][0] in {"R3", "R4"}
    assert extras[0][1] == "y"
    assert [(p.item, p.kind) for p in after if p.rater == "R1"] == [("x", design.STUDY)]
