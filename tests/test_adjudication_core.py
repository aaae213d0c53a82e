"""Adjudication's pure pieces, without a database: the sample's size and seeded draw, the
readers' seeded order, and how often a reference sided with the raters' majority."""

import pytest

from annotation.core import adjudication as core


def test_a_sample_takes_a_number_or_a_fraction_rounded_up():
    assert core.sample_size(available=10, size=3, fraction=None) == 3
    assert core.sample_size(available=2, size=5, fraction=None) == 2
    assert core.sample_size(available=10, size=None, fraction=0.25) == 3
    assert core.sample_size(available=1, size=None, fraction=0.01) == 1
    assert core.sample_size(available=0, size=None, fraction=0.5) == 0


@pytest.mark.parametrize(
    ("size", "fraction", "field"),
    [
        (None, None, "sample_size"),
        (2, 0.5, "sample_size"),
        (0, None, "sample_size"),
        (True, None, "sample_size"),
        (2**31, None, "sample_size"),
        (None, 0, "sample_fraction"),
        (None, 1.5, "sample_fraction"),
    ],
)
def test_a_bad_sample_names_its_field(size, fraction, field):
    with pytest.raises(core.SampleError, match=field):
        core.sample_size(available=10, size=size, fraction=fraction)


def test_the_draw_depends_on_the_seed_not_the_order_given():
    tokens = [f"t{i}" for i in range(20)]
    first = core.draw(tokens, n=5, seed=7)
    assert first == core.draw(list(reversed(tokens)), n=5, seed=7)
    assert first != core.draw(tokens, n=5, seed=8)
    assert len(set(first)) == 5
    # The seeded order itself, not the tokens' sorted order.
    everything = core.draw(tokens, n=20, seed=7)
    assert sorted(everything) == sorted(tokens)
    assert everything != sorted(tokens)


def test_responses_are_shown_in_a_seeded_order_per_item():
    orders = [core.shown_order(2, seed=5, item=f"item{i}") for i in range(20)]
    assert {tuple(o) for o in orders} == {(0, 1), (1, 0)}
    assert orders == [core.shown_order(2, seed=5, item=f"item{i}") for i in range(20)]
    assert [core.pairwise_flipped(o) for o in orders] == [o == [1, 0] for o in orders]
    assert sorted(core.shown_order(4, seed=5, item="x")) == [0, 1, 2, 3]


def test_derived_seeds_are_stable_and_distinct():
    assert core.derived_seed(1234, "sample", 1) == core.derived_seed(1234, "sample", 1)
    assert core.derived_seed(1234, "sample", 1) != core.derived_seed(1234, "sample", 2)
    assert 0 <= core.derived_seed(1234, "x") < 2**63


def test_readers_are_shuffled_per_item_and_reproducibly():
    readers = list(range(1, 9))
    orders = {tuple(core.reader_order(readers, seed=5, item=f"item{i}")) for i in range(6)}
    assert len(orders) > 1  # not one fixed order for every item
    assert core.reader_order(readers, seed=5, item="a") == core.reader_order(
        list(reversed(readers)), seed=5, item="a"
    )
    assert sorted(core.reader_order(readers, seed=5, item="a")) == readers


def test_siding_counts_items_without_a_majority_apart():
    siding = core.siding(
        [
            (3, [3, 3, 4]),  # sided
            (4, [3, 3, 4]),  # against the majority
            (2, [1, 2]),  # no majority
            ("yes", ["yes", "yes"]),  # sided
        ]
    )
    assert siding.as_dict() == {
        "adjudicated": 4,
        "with_majority": 3,
        "sided": 2,
        "no_majority": 1,
        "share": pytest.approx(2 / 3),
    }
    assert core.Siding().share is None
