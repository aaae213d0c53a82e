"""Allocating assisted reads (annotation.core.reading.allocation): the Williams design, the
crossover and sequential layouts' completeness and balance over many sizes (hypothesis), their
seeded reproducibility and digest, and the washout between sessions."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation.core.reading.allocation import (
    ASSISTED_PHASE,
    CROSSOVER,
    SEQUENTIAL,
    UNASSISTED,
    UNASSISTED_PHASE,
    allocate,
    crossover,
    is_open,
    layout_problems,
    opens_at,
    scorer_order,
    sequential,
    williams,
)

ASSISTING = ["llm", "search", "llm+search", "atlas"]


@st.composite
def studies(draw, *, min_arms: int = 2):
    n_arms = draw(st.integers(min_value=min_arms, max_value=5))
    arms = [UNASSISTED, *ASSISTING[: n_arms - 1]]
    readers = [f"R{i}" for i in range(draw(st.integers(min_value=1, max_value=9)))]
    cases = [f"case{i}" for i in range(draw(st.integers(min_value=1, max_value=40)))]
    return readers, cases, arms, draw(st.integers(min_value=0, max_value=2**31 - 1))


def spread(counter: Counter, keys) -> int:
    """The largest count less the smallest, over every key (absent keys count 0)."""
    values = [counter[key] for key in keys]
    return max(values) - min(values)


# --- the Williams design ---------------------------------------------------------------------


@pytest.mark.parametrize("n", range(2, 9))
def test_williams_rows_are_balanced_for_position_and_carryover(n):
    rows = williams(n)
    assert len(rows) == (n if n % 2 == 0 else 2 * n)
    assert all(sorted(row) == list(range(n)) for row in rows)
    per_position = len(rows) // n
    for position in range(n):
        assert Counter(row[position] for row in rows) == dict.fromkeys(range(n), per_position)
    followers = Counter(pair for row in rows for pair in pairwise(row))
    ordered_pairs = {(a, b) for a in range(n) for b in range(n) if a != b}
    assert set(followers) == ordered_pairs
    assert set(followers.values()) == {len(rows) // n}


def test_williams_for_four_as_published():
    assert williams(4) == [(0, 1, 3, 2), (1, 2, 0, 3), (2, 3, 1, 0), (3, 0, 2, 1)]


# --- crossover -------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(studies())
def test_crossover_every_reader_reads_every_case_once_in_every_arm(study):
    readers, cases, arms, seed = study
    manifest = crossover(readers=readers, cases=cases, arms=arms, seed=seed)
    reads = Counter((r.reader, r.case, r.arm) for r in manifest.readings)
    assert set(reads) == {(r, c, a) for r in readers for c in cases for a in arms}
    assert set(reads.values()) == {1}
    # One arm per session: each (reader, case) meets each session once.
    sessions = Counter((r.reader, r.case, r.session) for r in manifest.readings)
    assert set(sessions.values()) == {1}
    assert manifest.sessions == len(arms)
    # Positions number each reader's whole order, session after session.
    n = len(cases)
    for reader in readers:
        for session in range(1, len(arms) + 1):
            positions = sorted(
                r.position for r in manifest.readings if r.reader == reader and r.session == session
            )
            assert positions == list(range((session - 1) * n + 1, session * n + 1))


@settings(max_examples=150, deadline=None)
@given(studies())
def test_crossover_balances_arms_within_sessions_for_readers_and_cases(study):
    readers, cases, arms, seed = study
    manifest = crossover(readers=readers, cases=cases, arms=arms, seed=seed)
    allowed = 1 if len(arms) % 2 == 0 else 2
    by_reader = Counter((r.reader, r.session, r.arm) for r in manifest.readings)
    by_case = Counter((r.case, r.session, r.arm) for r in manifest.readings)
    for session in range(1, len(arms) + 1):
        for reader in readers:
            assert spread(by_reader, [(reader, session, arm) for arm in arms]) <= allowed
        for case in cases:
            assert spread(by_case, [(case, session, arm) for arm in arms]) <= allowed


@pytest.mark.parametrize(("n_arms", "n_readers", "n_cases"), [(2, 4, 10), (3, 6, 12), (4, 8, 8)])
def test_crossover_is_exactly_balanced_when_sizes_are_multiples_of_the_rows(
    n_arms, n_readers, n_cases
):
    arms = [UNASSISTED, *ASSISTING[: n_arms - 1]]
    readers = [f"R{i}" for i in range(n_readers)]
    cases = [f"c{i}" for i in range(n_cases)]
    manifest = crossover(readers=readers, cases=cases, arms=arms, seed=11)
    by_reader = Counter((r.reader, r.session, r.arm) for r in manifest.readings)
    by_case = Counter((r.case, r.session, r.arm) for r in manifest.readings)
    assert set(by_reader.values()) == {n_cases // n_arms}
    assert set(by_case.values()) == {n_readers // n_arms}
    # Carryover: across (reader, case) pairs, every arm follows every other equally often.
    sequences: dict[tuple, list] = {}
    for r in sorted(manifest.readings, key=lambda r: r.session):
        sequences.setdefault((r.reader, r.case), []).append(r.arm)
    follows = Counter(pair for arms_read in sequences.values() for pair in pairwise(arms_read))
    assert len(follows) == n_arms * (n_arms - 1)
    assert len(set(follows.values())) == 1


def test_crossover_two_arms_is_ab_ba_for_half_the_pairs_each():
    manifest = crossover(
        readers=["R1", "R2"], cases=["c1", "c2", "c3", "c4"], arms=[UNASSISTED, "llm"], seed=3
    )
    first = Counter(r.arm for r in manifest.readings if r.session == 1)
    assert first == {UNASSISTED: 4, "llm": 4}
    for reader in ("R1", "R2"):
        assert Counter(
            r.arm for r in manifest.readings if r.reader == reader and r.session == 1
        ) == {
            UNASSISTED: 2,
            "llm": 2,
        }


# --- sequential ------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(studies())
def test_sequential_reads_each_case_unassisted_then_assisted_in_one_session(study):
    readers, cases, arms, seed = study
    manifest = sequential(readers=readers, cases=cases, arms=arms, seed=seed)
    assert manifest.sessions == 1
    by_pair: dict[tuple, list] = {}
    for r in manifest.readings:
        by_pair.setdefault((r.reader, r.case), []).append(r)
    assert set(by_pair) == {(r, c) for r in readers for c in cases}
    for reads in by_pair.values():
        assert [r.phase for r in reads] == [UNASSISTED_PHASE, ASSISTED_PHASE]
        assert reads[0].arm == UNASSISTED
        assert reads[1].arm in arms[1:]
        assert reads[1].position == reads[0].position + 1
    for reader in readers:
        positions = sorted(r.position for r in manifest.readings if r.reader == reader)
        assert positions == list(range(1, 2 * len(cases) + 1))
    # Assisting arms balanced within one per reader and per case.
    assisted = [r for r in manifest.readings if r.phase == ASSISTED_PHASE]
    by_reader = Counter((r.reader, r.arm) for r in assisted)
    by_case = Counter((r.case, r.arm) for r in assisted)
    for reader in readers:
        assert spread(by_reader, [(reader, arm) for arm in arms[1:]]) <= 1
    for case in cases:
        assert spread(by_case, [(case, arm) for arm in arms[1:]]) <= 1


def test_sequential_orders_differ_between_readers_and_seeds():
    cases = [f"c{i}" for i in range(20)]
    manifest = sequential(readers=["R1", "R2"], cases=cases, arms=[UNASSISTED, "llm"], seed=5)

    def order(m, reader):
        reads = [r for r in m.readings if r.reader == reader and r.phase == UNASSISTED_PHASE]
        return [r.case for r in sorted(reads, key=lambda r: r.position)]

    assert order(manifest, "R1") != order(manifest, "R2")
    other = sequential(readers=["R1", "R2"], cases=cases, arms=[UNASSISTED, "llm"], seed=6)
    assert order(other, "R1") != order(manifest, "R1")


# --- reproducibility -------------------------------------------------------------------------


@pytest.mark.parametrize("layout", [CROSSOVER, SEQUENTIAL])
def test_same_inputs_same_manifest_and_digest_whatever_the_input_order(layout):
    arms = [UNASSISTED, "llm", "search"]
    readers = ["R1", "R2", "R3"]
    cases = [f"c{i}" for i in range(9)]
    one = allocate(layout=layout, readers=readers, cases=cases, arms=arms, seed=42)
    two = allocate(
        layout=layout, readers=readers[::-1], cases=cases[::-1], arms=arms[::-1], seed=42
    )
    assert one.readings == two.readings
    assert one.digest == two.digest
    assert len(one.digest) == 64
    other = allocate(layout=layout, readers=readers, cases=cases, arms=arms, seed=43)
    assert other.digest != one.digest


def test_digest_pins_a_known_manifest():
    """A change to the allocation (or the digest) shows here: running studies keep their
    stored manifest, but a new study must not be allocated differently by accident."""
    manifest = crossover(
        readers=["R1", "R2"], cases=["a", "b", "c"], arms=[UNASSISTED, "llm"], seed=0
    )
    assert [(r.reader, r.case, r.arm, r.session, r.position) for r in manifest.readings] == [
        ("R1", "a", "llm", 1, 1),
        ("R1", "b", UNASSISTED, 1, 2),
        ("R1", "c", "llm", 1, 3),
        ("R1", "a", UNASSISTED, 2, 4),
        ("R1", "c", UNASSISTED, 2, 5),
        ("R1", "b", "llm", 2, 6),
        ("R2", "a", UNASSISTED, 1, 1),
        ("R2", "c", UNASSISTED, 1, 2),
        ("R2", "b", "llm", 1, 3),
        ("R2", "b", UNASSISTED, 2, 4),
        ("R2", "a", "llm", 2, 5),
        ("R2", "c", "llm", 2, 6),
    ]
    assert manifest.digest == "34e32cc2ce23146fb9c54aa273524f328d0853b6dbbf3a0d3abd6a379a305528"


def test_digest_ignores_the_order_of_readings_but_not_their_content():
    manifest = crossover(readers=["R1", "R2"], cases=["a", "b"], arms=[UNASSISTED, "llm"], seed=1)
    shuffled = type(manifest)(
        manifest.layout, manifest.seed, manifest.arms, manifest.readings[::-1]
    )
    assert shuffled.digest == manifest.digest
    first = manifest.readings[0]
    changed = type(first)(first.reader, first.case, first.arm, first.session, first.position + 9)
    edited = type(manifest)(
        manifest.layout, manifest.seed, manifest.arms, (changed, *manifest.readings[1:])
    )
    assert edited.digest != manifest.digest


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("readers", "cases", "arms", "message"),
    [
        (["R1"], ["c1"], ["llm", "search"], "must include 'unassisted'"),
        (["R1"], ["c1"], [UNASSISTED], "at least one assisting arm"),
        (["R1", "R1"], ["c1"], [UNASSISTED, "llm"], "readers must be unique"),
        (["R1"], ["c1", "c1"], [UNASSISTED, "llm"], "cases must be unique"),
        (["R1"], [], [UNASSISTED, "llm"], "no cases"),
        ([], ["c1"], [UNASSISTED, "llm"], "no readers"),
    ],
)
@pytest.mark.parametrize("layout", [CROSSOVER, SEQUENTIAL])
def test_bad_allocation_input_is_refused(layout, readers, cases, arms, message):
    with pytest.raises(ValueError, match=message):
        allocate(layout=layout, readers=readers, cases=cases, arms=arms, seed=0)


def test_unknown_layout_is_refused():
    with pytest.raises(ValueError, match="unknown layout"):
        allocate(layout="parallel", readers=["R1"], cases=["c"], arms=[UNASSISTED, "x"], seed=0)


# --- washout ---------------------------------------------------------------------------------

FINISHED = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)


def test_a_later_session_opens_a_washout_after_the_previous_one_finished():
    assert opens_at(previous_finished=FINISHED, washout_days=28) == datetime(
        2026, 3, 30, 16, 30, tzinfo=UTC
    )
    opens = FINISHED + timedelta(days=28)
    kwargs = {"session": 2, "previous_finished": FINISHED, "washout_days": 28}
    assert not is_open(**kwargs, now=opens - timedelta(seconds=1))
    assert is_open(**kwargs, now=opens)


def test_first_session_is_open_at_once_and_a_later_one_waits_for_the_previous():
    assert is_open(session=1, previous_finished=None, washout_days=28, now=FINISHED)
    assert not is_open(session=2, previous_finished=None, washout_days=0, now=FINISHED)
    assert is_open(session=2, previous_finished=FINISHED, washout_days=0, now=FINISHED)
    with pytest.raises(ValueError, match="0 or more"):
        opens_at(previous_finished=FINISHED, washout_days=-1)


# --- the scorer's order ----------------------------------------------------------------------


def test_scorer_order_is_a_seeded_shuffle_of_its_own():
    keys = [f"tok{n:03d}" for n in range(60)]
    order = scorer_order(keys, scorer="S1", seed=7)
    assert sorted(order) == keys
    assert order != keys
    assert scorer_order(keys[::-1], scorer="S1", seed=7) == order  # arrival order does not count
    assert scorer_order(keys, scorer="S2", seed=7) != order
    assert scorer_order(keys, scorer="S1", seed=8) != order


def test_scorer_order_does_not_follow_the_arm_answers_arrived_in():
    """Answers arriving arm by arm (first half unassisted): over many seeds the unassisted
    answers' mean place is the middle, as for any other answers."""
    keys = [f"tok{n:03d}" for n in range(40)]
    unassisted = set(keys[:20])
    places = []
    for seed in range(300):
        order = scorer_order(keys, scorer="S1", seed=seed)
        places.append(sum(place for place, key in enumerate(order) if key in unassisted) / 20)
    assert abs(sum(places) / len(places) - 19.5) < 0.6


def test_a_crossover_needs_its_washout_and_a_sequential_study_has_none():
    assert layout_problems(layout=CROSSOVER, washout_days=0) == {}
    assert layout_problems(layout=CROSSOVER, washout_days=28) == {}
    assert layout_problems(layout=SEQUENTIAL, washout_days=None) == {}
    assert layout_problems(layout=SEQUENTIAL, washout_days=0) == {}
    assert list(layout_problems(layout=CROSSOVER, washout_days=None)) == ["washout_days"]
    assert list(layout_problems(layout=CROSSOVER, washout_days=-1)) == ["washout_days"]
    assert list(layout_problems(layout=SEQUENTIAL, washout_days=7)) == ["washout_days"]
    assert list(layout_problems(layout="parallel", washout_days=None)) == ["layout"]
