"""The column-wise paths that make a million ratings fast give what the plain ones give: the
same unit patterns in the same order, the same indexed rows and readings, the same sorted
rows, the same leave-one-rater-out values, and the same faults named at the same row."""

import random

import numpy as np
import pytest

from annotation.core.stats import coefficients, raters_random
from annotation.core.stats.compare.common import _checked_columns, _rows
from annotation.core.stats.data import (
    DataError,
    Observation,
    first_seen,
    ratings_from,
    ratings_from_columns,
)
from annotation.core.stats.mrmc.readings import _crossed_columns, readings_from
from annotation.core.stats.resampling import Patterns
from annotation.services.statistics.mrmc import (
    _averaged,
    _bits,
    _block_readings,
    _Coded,
    _mask,
    _read_once,
)
from annotation.services.statistics.rows import rows_digest, sorted_rows


@pytest.mark.parametrize("seed", range(20))
def test_patterns_by_integer_keys_match_unique_rows(seed):
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, rng.integers(1, 30), (rng.integers(1, 3000), rng.integers(1, 7)))
    patterns = Patterns.of(rows)
    distinct, weights = np.unique(rows, axis=0, return_counts=True)
    assert np.array_equal(patterns.rows, distinct)
    assert np.array_equal(patterns.weights, weights)
    assert patterns.rows.dtype == distinct.dtype
    assert patterns.n == len(rows)


def test_patterns_of_rows_no_key_fits_are_still_unique_rows():
    for rows in (np.array([[-1, 2], [-1, 2], [0, 1]]), np.array([[0.5, 1.0], [0.5, 1.0]])):
        patterns = Patterns.of(rows)
        distinct, weights = np.unique(rows, axis=0, return_counts=True)
        assert np.array_equal(patterns.rows, distinct)
        assert np.array_equal(patterns.weights, weights)


def test_first_seen_indexes_in_the_order_first_seen():
    labels, index = first_seen(["b", "a", "b", "c", "a"])
    assert labels == ("b", "a", "c")
    assert index.tolist() == [0, 1, 0, 2, 1]


def _observations(seed: int, n_units: int = 60, n_raters: int = 5) -> list[Observation]:
    rng = random.Random(seed)
    cells = [(u, r) for u in range(n_units) for r in range(n_raters) if rng.random() < 0.8]
    rng.shuffle(cells)
    return [Observation(f"u{u}", f"r{r}", float(rng.randint(1, 5))) for u, r in cells]


@pytest.mark.parametrize("seed", range(5))
def test_leave_each_rater_out_matches_one_coefficient_at_a_time(seed):
    ratings = ratings_from(_observations(seed), level="ordinal", categories=[1, 2, 3, 4, 5])
    wanted = {key: raters_random.coefficient_for(key) for key in ("krippendorff_alpha", "gwet_ac1")}
    together = raters_random.leave_each_rater_out(ratings, wanted)
    for key, coefficient in wanted.items():
        assert together[key] == raters_random.leave_one_rater_out(ratings, coefficient)
    alone = coefficients.fleiss_kappa(ratings)
    again = coefficients.fleiss_kappa(ratings)  # the patterns kept from the first, same value
    assert alone.value == again.value
    assert alone.n_ratings == again.n_ratings


@pytest.mark.parametrize(
    ("values", "message", "index"),
    [
        ([1.0, 7.0, 2.0], "7.0 is not one of the categories", 1),
        ([1.0, 2.0, 3.0], "rater 'r1' rated unit 'u1' twice", 2),
        ([1.0, None, 2.0], "None is not a value", 1),
        ([1.0, float("nan"), 2.0], "nan is not a value", 1),
    ],
)
def test_ratings_from_columns_names_the_first_faulty_row(values, message, index):
    units, raters = ["u1", "u2", "u1"], ["r1", "r1", "r1"]
    with pytest.raises(DataError, match=message) as fault:
        ratings_from_columns(units, raters, values, level="ordinal", categories=[1, 2, 3])
    assert fault.value.index == index


def test_rows_by_columns_match_rows_one_by_one():
    rng = random.Random(3)
    rows = [(f"c{c}", f"r{r}", float(rng.randint(1, 5))) for c in range(40) for r in range(4)]
    rng.shuffle(rows)
    by_columns = _checked_columns(rows, 3, 1, True)
    assert by_columns is not None
    one_by_one = _rows([(c, r, int(v)) for c, r, v in rows], numbers=1)  # ints: the row path
    assert by_columns.cases == one_by_one.cases
    assert np.array_equal(by_columns.case, one_by_one.case)
    assert np.array_equal(by_columns.numbers, one_by_one.numbers)
    assert by_columns.n_raters == one_by_one.n_raters
    twice = rows + [rows[0]]
    assert _checked_columns(twice, 3, 1, True) is None
    with pytest.raises(DataError, match="rated case") as fault:
        _rows(twice, numbers=1)
    assert fault.value.index == len(rows)


def test_readings_by_columns_match_readings_one_by_one():
    rng = random.Random(5)
    rows = [
        (f"R{r}", f"c{c}", m, float(rng.randint(1, 5)))
        for r in range(3)
        for c in range(6)
        for m in ("B", "A")
    ]
    rng.shuffle(rows)
    modalities, readers, cases, values = _crossed_columns(rows, "mean")
    plain = readings_from([(r, c, m, int(v)) for r, c, m, v in rows], figure="mean")
    assert (modalities, readers, cases) == (plain.modalities, plain.readers, plain.cases)
    assert np.array_equal(values, plain.values)
    assert _crossed_columns(rows[1:], "mean") is None  # not crossed: the plain check says why
    with pytest.raises(DataError, match="not fully crossed"):
        readings_from(rows[1:], figure="mean")


def test_sorted_rows_and_their_digest():
    rng = random.Random(7)
    rows = list(
        {
            (f"c{rng.randrange(50)}", rng.choice("AB"), "", f"R{rng.randrange(9)}", 1.0 * k)
            for k in range(5)
            for _ in range(200)
        }
    )
    ordered, digest = sorted_rows(rows)
    assert ordered == sorted(rows)
    assert rows_digest(list(reversed(rows))) == digest
    assert rows_digest(rows[1:]) != digest
    changed = [rows[0][:4] + (rows[0][4] + 1,), *rows[1:]]
    assert rows_digest(changed) != digest
    assert sorted_rows([])[0] == []
    assert rows_digest([]) == sorted_rows([])[1]


def test_masks_and_bits_are_inverse():
    rng = np.random.default_rng(2)
    for n in (0, 1, 7, 8, 9, 25_000):
        positions = sorted(set(rng.integers(0, max(n, 1), n // 3).tolist())) if n else []
        mask = _mask(positions, n)
        assert mask == sum(1 << i for i in positions)
        assert _bits(mask) == positions


def test_readings_read_once_sorted_as_averaged():
    rng = random.Random(11)
    readings = [
        (f"R{r}", f"c{c}", m, float(rng.randint(1, 5)))
        for r in range(4)
        for c in range(10)
        for m in ("A", "B")
    ]
    rng.shuffle(readings)
    readers, cases = {"R0", "R2", "R3"}, {f"c{c}" for c in range(0, 10, 2)}
    kept = [r for r in readings if r[0] in readers and r[1] in cases]
    expected = sorted(kept)
    assert _read_once(kept) == expected
    assert _averaged(readings, readers, cases) == expected
    twice = kept + [(*kept[0][:3], 1.0)]  # one output read twice: averaged, not "once"
    assert _read_once(twice) is None
    mean = (kept[0][3] + 1.0) / 2
    assert (*kept[0][:3], mean) in _averaged(twice, readers, cases)


def test_a_coefficient_leaves_no_reference_cycle_holding_its_ratings():
    """Left out one rater at a time, a million ratings' copies must go as soon as each is done
    with, not when the garbage collector next runs (that was 700 MB at 20 raters)."""
    import gc
    import weakref

    ratings = ratings_from(_observations(1), level="ordinal", categories=[1, 2, 3, 4, 5])
    gc.disable()
    try:
        for level in ("ordinal", "interval", "nominal"):
            copy = raters_random.without_rater(ratings, 0)
            coefficients.krippendorff_alpha(copy, level=level)
            coefficients.fleiss_kappa(copy)
            coefficients.gwet_ac(copy, weighting="linear")
            gone = weakref.ref(copy)
            del copy
            assert gone() is None
    finally:
        gc.enable()


def test_block_readings_as_arrays_match_the_sorted_readings():
    """The crossed block's array built from coded columns is the one `readings_from` makes of
    the block's readings sorted (`_read_once`); an output read twice or a value that is not
    finite gives None, for the tuples' path to average or reject."""
    rng = random.Random(13)
    readings = [
        (f"R{r}", f"c{c}", m, float(rng.randint(1, 5)))
        for r in range(5)
        for c in range(12)
        for m in ("B", "A", "C")
        if (r, c) != (1, 4)  # a reader outside the block missed a case
    ]
    rng.shuffle(readings)

    def coded(rows):
        return _Coded.of(*(list(column) for column in zip(*rows, strict=True))).pair("A", "B")

    readers, cases = ["R0", "R2", "R3"], ["c1", "c10", "c4", "c7"]
    kept = [r for r in readings if r[0] in readers and r[1] in cases and r[2] != "C"]
    block = _block_readings(coded(readings), readers, cases, "A", "B")
    plain = readings_from(_read_once(kept), figure="mean")
    assert (block.modalities, block.readers, block.cases) == (
        plain.modalities,
        plain.readers,
        plain.cases,
    )
    assert np.array_equal(block.values, plain.values)
    assert _block_readings(coded([*readings, kept[0]]), readers, cases, "A", "B") is None
    nan = [(*kept[0][:3], float("nan")), *[r for r in readings if r[:3] != kept[0][:3]]]
    assert _block_readings(coded(nan), readers, cases, "A", "B") is None
    assert _block_readings(coded(readings), ["R0", "R1"], cases, "A", "B") is None


def test_sources_as_checked_columns_summarise_as_their_tuples():
    """A source's ratings given to `score_summary` and `case_means` as checked columns give
    what the same ratings as tuples give; a rating that is not a plain float, or a rater's
    second rating of a case, leaves that source as tuples (whose check names the row)."""
    from annotation.core.stats import compare
    from annotation.core.stats.resampling import Bootstrap
    from annotation.services.statistics.comparisons import _by_source

    rng = random.Random(17)
    rows = sorted(
        (f"c{c}", source, "", f"R{r}", float(rng.randint(1, 5)))
        for c in range(30)
        for source in ("B", "A")
        for r in range(4)
        if rng.random() < 0.8
    )
    bootstrap = Bootstrap(resamples=50, seed=3)
    found = _by_source(rows)
    assert sorted(found) == ["A", "B"]
    for source, observations in found.items():
        assert not isinstance(observations, list)
        plain = [(c, r, v) for c, s, _, r, v in rows if s == source]
        assert compare.score_summary(
            observations, bootstrap=bootstrap, categories=[1, 2, 3, 4, 5]
        ) == compare.score_summary(plain, bootstrap=bootstrap, categories=[1, 2, 3, 4, 5])
        assert compare.case_means(observations) == compare.case_means(plain)
    twice = _by_source([*rows, (*rows[0][:4], 9.0)])
    assert isinstance(twice[rows[0][1]], list)
    with pytest.raises(DataError, match="twice"):
        compare.case_means(twice[rows[0][1]])
    assert isinstance(_by_source([*rows[1:], (*rows[0][:4], 3)])[rows[0][1]], list)


def test_all_distinct_by_counting_or_by_unique():
    from annotation.core.stats.data import all_distinct

    rng = np.random.default_rng(4)
    for bound in (1, 50, 5_000, 10**9):
        for n in (0, 1, 2, 40):
            keys = rng.integers(0, bound, n)
            assert all_distinct(keys, bound) == (len(np.unique(keys)) == n)
        distinct = rng.permutation(min(bound, 30))
        assert all_distinct(distinct, bound)
        if len(distinct) > 1:
            assert not all_distinct(np.append(distinct, distinct[-1]), bound)


def test_unit_names_joined_as_unit_of_names_them():
    from annotation.services.statistics.agreement import _unit_names
    from annotation.services.statistics.rows import unit_of

    rows = [("c1", "A", "", "R1", 1.0), ("c2", "A", "B", "R2", 2.0), ("c1", "", "", "R1", 3.0)]
    assert _unit_names(rows) == [unit_of(row) for row in rows]
    odd = [*rows, (7, "A", "", "R1", 1.0)]  # a part that is not text
    assert _unit_names(odd) == [unit_of(row) for row in odd]


def test_patterns_draw_their_seeded_resamples_once():
    """Kept draws are the ones a fresh draw gives, read-only, and only for a seeded bootstrap
    that fits one chunk."""
    from annotation.core.stats.resampling import CHUNK_CELLS, Bootstrap

    rng = np.random.default_rng(6)
    rows = rng.integers(0, 3, size=(400, 3))
    bootstrap = Bootstrap(resamples=200, seed=9)
    patterns = Patterns.of(rows)
    first = np.concatenate(list(patterns.draws(bootstrap)))
    again = np.concatenate(list(patterns.draws(bootstrap)))
    fresh = np.concatenate(list(Patterns.of(rows).draws(bootstrap)))
    assert np.array_equal(first, fresh)
    assert np.array_equal(again, fresh)
    assert not next(patterns.draws(bootstrap)).flags.writeable
    other = np.concatenate(list(patterns.draws(Bootstrap(resamples=200, seed=10))))
    assert not np.array_equal(other, fresh)
    many = Bootstrap(resamples=CHUNK_CELLS // len(patterns.weights) + 1, seed=9)
    assert len(list(patterns.draws(many))) == 2
    assert (many.seed, many.resamples) not in patterns.drawn
