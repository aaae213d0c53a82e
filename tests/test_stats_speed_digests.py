"""The digests and sorted rows of a question's scopes, made from the rows ranked once, are what
`rows_digest` and `sorted_rows` give for each scope's rows on their own: every scope of the
agreement, the comparisons' rows about one output, any part at random."""

import random

import numpy as np
import pytest

from annotation.services.statistics import agreement, comparisons
from annotation.services.statistics.rows import Ranked, _order, rows_digest, sorted_rows


def _rows(seed: int) -> list[tuple]:
    """Rows as `human_rows` shapes them: most about one output, some about a pair or a set,
    in no order."""
    rng = random.Random(seed)
    found = set()
    for _ in range(rng.randrange(1, 2000)):
        case, rater = f"c{rng.randrange(80)}", f"R{rng.randrange(12)}"
        kind = rng.random()
        if kind < 0.7:
            source, second = rng.choice(["A", "B", "C"]), ""
        elif kind < 0.9:
            source, second = "A", rng.choice(["B", "C"])
        else:
            source, second = "", ""
        found.add((case, source, second, rater, float(rng.randrange(-2, 5))))
    rows = list(found)
    rng.shuffle(rows)
    return rows


@pytest.mark.parametrize("seed", range(15))
def test_scope_digests_from_ranks_match_each_scope_alone(seed):
    humans = _rows(seed)
    ranked = Ranked.of(humans)
    for source in agreement._sources(humans) + ["absent"]:
        scoped = agreement._scoped(humans, source)
        assert ranked.digest(agreement._kept(ranked, source)) == rows_digest(scoped)
    assert ranked.digest() == rows_digest(list(reversed(humans)))


@pytest.mark.parametrize("seed", range(15))
def test_rows_about_one_output_sorted_from_ranks(seed):
    humans = _rows(seed)
    alone = [row for row in humans if row[1] and not row[2]]
    from_ranks = comparisons._about_one_output(humans, Ranked.of(humans))
    assert from_ranks == comparisons._about_one_output(humans, None) == sorted_rows(alone)
    assert from_ranks[0] == sorted(alone)


@pytest.mark.parametrize("seed", range(10))
def test_any_part_digested_and_sorted_as_on_its_own(seed):
    humans = _rows(100 + seed)
    ranked = Ranked.of(humans)
    keep = np.random.default_rng(seed).random(len(humans)) < 0.3
    part = [row for row, kept in zip(humans, keep, strict=True) if kept]
    assert ranked.digest(keep) == rows_digest(part)
    assert ranked.sorted(keep) == sorted_rows(part)
    nothing = np.zeros(len(humans), dtype=bool)
    assert ranked.sorted(nothing) == sorted_rows([]) == ([], rows_digest([]))


def test_order_by_one_key_is_the_lexsort_order():
    rng = np.random.default_rng(3)
    codes = [rng.integers(0, n, 5000) for n in (40, 3, 2, 9, 7)]
    assert np.array_equal(_order(codes), np.lexsort(codes[::-1]))
    wide = [rng.integers(0, 2**40, 100) for _ in range(2)]  # no key fits: lexsort itself
    assert np.array_equal(_order(wide), np.lexsort(wide[::-1]))


def test_rows_that_do_not_rank_are_digested_as_text():
    assert Ranked.of([]) is None
    assert Ranked.of([("c", "A", "", "R", 1.0), ("c", "A", "")]) is None
    assert Ranked.of([("c", None, "", "R", 1.0), ("c", "A", "", "R", 1.0)]) is None
