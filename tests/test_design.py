from collections import Counter

import pytest

from annotation.core.design import assign_balanced

ITEMS = [f"item{i}" for i in range(23)]
RATERS = ["r1", "r2", "r3", "r4", "r5"]


def test_every_item_gets_k_distinct_raters():
    placements = assign_balanced(items=ITEMS, raters=RATERS, k=3, seed=7)
    by_item: dict[str, list[str]] = {}
    for p in placements:
        by_item.setdefault(p.item, []).append(p.rater)
    assert set(by_item) == set(ITEMS)
    assert all(len(raters) == 3 and len(set(raters)) == 3 for raters in by_item.values())


def test_rater_loads_differ_by_at_most_one():
    placements = assign_balanced(items=ITEMS, raters=RATERS, k=3, seed=7)
    loads = Counter(p.rater for p in placements)
    assert sum(loads.values()) == 23 * 3
    assert max(loads.values()) - min(loads.values()) <= 1


def test_positions_run_from_one_without_gaps_per_rater():
    placements = assign_balanced(items=ITEMS, raters=RATERS, k=2, seed=7)
    for rater in RATERS:
        positions = sorted(p.position for p in placements if p.rater == rater)
        assert positions == list(range(1, len(positions) + 1))


def test_same_seed_same_manifest_regardless_of_input_order():
    first = assign_balanced(items=ITEMS, raters=RATERS, k=2, seed=99)
    second = assign_balanced(items=ITEMS[::-1], raters=RATERS[::-1], k=2, seed=99)
    assert first == second


def test_different_seeds_give_different_orders():
    first = assign_balanced(items=ITEMS, raters=RATERS, k=2, seed=1)
    second = assign_balanced(items=ITEMS, raters=RATERS, k=2, seed=2)
    assert first != second


def test_rater_pairings_vary():
    placements = assign_balanced(items=ITEMS * 1, raters=RATERS, k=2, seed=3)
    by_item: dict[str, frozenset] = {}
    for p in placements:
        by_item[p.item] = by_item.get(p.item, frozenset()) | {p.rater}
    # Fixed round-robin blocks would give only 5 distinct pairs out of the 10 possible.
    assert len(set(by_item.values())) > 5


@pytest.mark.parametrize(
    ("items", "raters", "k", "message"),
    [
        (["a"], ["r1"], 2, "only 1 raters"),
        (["a"], ["r1"], 0, "at least 1"),
        (["a", "a"], ["r1"], 1, "unique"),
    ],
)
def test_impossible_designs_are_refused(items, raters, k, message):
    with pytest.raises(ValueError, match=message):
        assign_balanced(items=items, raters=raters, k=k, seed=0)
