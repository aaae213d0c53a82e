"""Assignment design: which rater judges which item, and in what order. Plain data, no Django.

Every item goes to exactly k distinct raters; raters' loads differ by at most one; each rater's
order is shuffled independently. All randomness comes from one seed, so the same inputs give the
same manifest (it is also stored, so a later change to this code cannot rewrite a running study).
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Placement:
    rater: str
    item: str
    position: int  # 1-based place in the rater's order


def assign_balanced(
    *, items: Sequence[str], raters: Sequence[str], k: int, seed: int
) -> list[Placement]:
    """Give each item to k raters, balancing load, and shuffle each rater's order.

    Items go one at a time (in a seeded random order) to the k least-loaded raters, ties broken
    by a seeded random rank that is redrawn for every item so that rater pairings vary. Choosing
    the k least loaded keeps every load within one of every other.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    if len(set(raters)) != len(raters) or len(set(items)) != len(items):
        raise ValueError("items and raters must be unique")
    if k > len(raters):
        raise ValueError(f"k={k} raters per item, but only {len(raters)} raters")
    rng = random.Random(seed)
    ordered_raters = sorted(raters)
    load = dict.fromkeys(ordered_raters, 0)
    chosen: dict[str, list[str]] = {rater: [] for rater in ordered_raters}
    shuffled_items = sorted(items)
    rng.shuffle(shuffled_items)
    for item in shuffled_items:
        tiebreak = {rater: rng.random() for rater in ordered_raters}
        for rater in sorted(ordered_raters, key=lambda r: (load[r], tiebreak[r]))[:k]:
            load[rater] += 1
            chosen[rater].append(item)
    placements = []
    for rater in ordered_raters:
        order = chosen[rater]
        rng.shuffle(order)
        placements += [Placement(rater, item, pos) for pos, item in enumerate(order, start=1)]
    return placements
