"""Assignment design: which rater judges which item, in what order, and with which output on
which side. Plain data, no Django.

Every item goes to exactly k distinct raters; raters' loads differ by at most one; each rater's
order is shuffled independently. An item shows one output (absolute rating) or several outputs
of one case (pairwise, ranking, side by side): the order they are shown in is counterbalanced, so
that within every set of sources each source takes each side or position equally often (within
one, for pairs). All randomness comes from one seed, so the same inputs give the same manifest;
the manifest and its digest are also stored, so a later change to this code cannot rewrite a
running study.

Quality control rides on the same manifest (`add_quality_control`): training items come first
for every rater; attention checks and repeats of a rater's own items are hidden among the rest.
Re-reads after a washout (retests) make up a second reading session after all of the first.
"""

import hashlib
import itertools
import json
import random
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

# Above this many outputs per item, orders are shuffled rather than balanced (n! permutations).
MAX_BALANCED_SLOTS = 6

# What a placement is for: the study proper, or quality control (see add_quality_control).
STUDY, TRAINING, ATTENTION, REPEAT = "study", "training", "attention", "repeat"
RETEST = "retest"  # a re-read of the rater's own item in a later session, after the washout
# An adaptive extra rating: the item's first ratings disagreed (see `extra_placements`).
EXTRA = "extra"
# Kinds that point back at the rater's first sight of an item, and go where it goes.
SECOND_SIGHTS = (REPEAT, RETEST)
MOVES_WITH_ITEM = (STUDY, *SECOND_SIGHTS)
# What leaves a stopping rater with an item that moved (a rater holds an item as study or extra).
_MOVES = (*MOVES_WITH_ITEM, EXTRA)
# A repeat comes at least this many items after the original, where the rater's order allows.
MIN_REPEAT_GAP = 5


@dataclass(frozen=True)
class DesignItem:
    key: str
    # The sources whose outputs the item shows; order only matters when there are two or more.
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Placement:
    rater: str
    item: str
    position: int  # 1-based place in the rater's order
    order: tuple[str, ...] = ()  # the item's sources as shown: A then B, or first to last
    kind: str = STUDY
    session: int = 1  # the rater's reading session: a later one opens after the washout

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies a placement: a rater may see an item twice (the second a repeat)."""
        return (self.rater, self.item, self.kind)


@dataclass(frozen=True)
class Manifest:
    seed: int
    k: int
    placements: tuple[Placement, ...]

    @property
    def digest(self) -> str:
        """SHA-256 over the seed, k and every placement: equal digests mean equal manifests."""
        # Tuples, which JSON writes as lists, and sort as lists would: (rater, position) is
        # unique, so no two rows tie on their first three fields. A session after the first
        # is written too; the first is left out, so manifests made before sessions keep
        # their digests.
        rows = [
            (p.rater, p.item, p.position, p.order)
            if p.kind == STUDY and p.session == 1
            else (p.rater, p.item, p.position, p.order, p.kind)
            if p.session == 1
            else (p.rater, p.item, p.position, p.order, p.kind, p.session)
            for p in self.placements
        ]
        canonical = json.dumps([self.seed, self.k, sorted(rows)], separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def assign_balanced(
    *, items: Sequence[str], raters: Sequence[str], k: int, seed: int
) -> list[Placement]:
    """One output per item: `assign` with nothing to order."""
    manifest = assign(items=[DesignItem(key) for key in items], raters=raters, k=k, seed=seed)
    return list(manifest.placements)


def assign(*, items: Sequence[DesignItem], raters: Sequence[str], k: int, seed: int) -> Manifest:
    """Give each item to k raters, balancing load, shuffle each rater's order, and
    counterbalance the order in which each item's outputs are shown.

    Items go one at a time (in a seeded random order) to the k least-loaded raters, ties broken
    by a seeded random rank that is redrawn for every item so that rater pairings vary. Choosing
    the k least loaded keeps every load within one of every other.
    """
    _check(items, raters, k)
    rng = random.Random(seed)
    ordered_raters = sorted(raters)
    load = dict.fromkeys(ordered_raters, 0)
    chosen: dict[str, list[str]] = {rater: [] for rater in ordered_raters}
    by_key = {item.key: item for item in items}
    shuffled = sorted(by_key)
    rng.shuffle(shuffled)
    everyone = k == len(ordered_raters)
    for key in shuffled:
        tiebreak = [rng.random() for _ in ordered_raters]  # drawn even when all are chosen
        if everyone:
            picked = ordered_raters
        else:  # a tie in load and draw keeps the raters' sorted order, as a stable sort would
            ranked = sorted(
                zip([load[r] for r in ordered_raters], tiebreak, ordered_raters, strict=True)
            )
            picked = [rater for _, _, rater in ranked[:k]]
        for rater in picked:
            load[rater] += 1
            chosen[rater].append(key)
    positioned = []
    for rater in ordered_raters:
        order = chosen[rater]
        rng.shuffle(order)
        positioned += [(rater, key, pos) for pos, key in enumerate(order, start=1)]
    orders = _counterbalance(positioned, by_key, rng)
    placements = tuple(
        Placement(rater, key, pos, orders.get((rater, key), ())) for rater, key, pos in positioned
    )
    return Manifest(seed=seed, k=k, placements=placements)


def _check(items: Sequence[DesignItem], raters: Sequence[str], k: int) -> None:
    if k < 1:
        raise ValueError("k must be at least 1")
    keys = [item.key for item in items]
    if len(set(raters)) != len(raters) or len(set(keys)) != len(keys):
        raise ValueError("items and raters must be unique")
    if k > len(raters):
        raise ValueError(f"k={k} raters per item, but only {len(raters)} raters")
    for item in items:
        if len(set(item.sources)) != len(item.sources):
            raise ValueError(f"item {item.key!r} shows one source twice")


def _counterbalance(
    positioned: list[tuple[str, str, int]], by_key: dict[str, DesignItem], rng: random.Random
) -> dict[tuple[str, str], tuple[str, ...]]:
    """Choose the order of each placement's sources so that, within each set of sources, every
    source is shown in every position as evenly as possible: overall first, then per rater.

    Placements are visited in item order and then rater order, so the result does not depend on
    how raters happened to be shuffled. Single-output items draw nothing from `rng`.
    """
    overall: dict[tuple[str, ...], Counter] = {}
    per_rater: dict[tuple[str, tuple[str, ...]], Counter] = {}
    orders = {}
    if all(len(item.sources) < 2 for item in by_key.values()):
        return orders  # one output each: nothing to order (and nothing drawn), so no sorting
    for rater, key, _ in sorted(positioned, key=lambda row: (row[1], row[0])):
        sources = by_key[key].sources
        if len(sources) < 2:
            continue
        group = tuple(sorted(sources))
        seen = overall.setdefault(group, Counter())
        mine = per_rater.setdefault((rater, group), Counter())
        candidates = _permutations(group, rng)
        draws = [rng.random() for _ in candidates]
        best = min(
            range(len(candidates)),
            key=lambda i: (_cost(seen, candidates[i]), _cost(mine, candidates[i]), draws[i]),
        )
        order = candidates[best]
        for position, source in enumerate(order):
            seen[(source, position)] += 1
            mine[(source, position)] += 1
        orders[(rater, key)] = order
    return orders


def _permutations(group: tuple[str, ...], rng: random.Random) -> list[tuple[str, ...]]:
    if len(group) <= MAX_BALANCED_SLOTS:
        return list(itertools.permutations(group))
    shuffled = list(group)
    rng.shuffle(shuffled)
    return [tuple(shuffled)]


def _cost(counts: Counter, order: tuple[str, ...]) -> int:
    return sum(counts[(source, position)] for position, source in enumerate(order))


def add_raters(
    *,
    placements: Sequence[Placement],
    new_raters: Sequence[str],
    movable: Collection[tuple[str, str, str]],
    seed: int,
    quality: "QualityControl | None" = None,
) -> list[Placement]:
    """Bring raters into a running study without reshuffling anyone's work.

    New raters take over study placements from the most-loaded existing raters until loads are
    within one, or until nothing more may move. A placement moves only if it is `movable` (a
    `Placement.key` whose rater has not started it) and so is everything after it in its
    rater's order, and never to a rater who already has that item. The donor's later
    placements close the gap, keeping their relative order; started placements keep their
    positions. A moved placement keeps its shown order, so the counterbalancing holds; the
    donor's repeat or re-read of it, not yet started, is dropped. Quality control never moves:
    each new rater gets their own, as `add_quality_control` gives it, their re-reads going to
    the items the fewest raters re-read so far.
    """
    existing = {p.rater for p in placements}
    if existing & set(new_raters) or len(set(new_raters)) != len(new_raters):
        raise ValueError("new raters must be distinct and not already in the study")
    movable = set(movable)
    queues = {rater: sorted(ps, key=lambda p: p.position) for rater, ps in _by_rater(placements)}
    received: dict[str, list[Placement]] = {rater: [] for rater in sorted(new_raters)}
    while received:
        receiver = min(received, key=lambda r: (len(received[r]), r))
        held = {p.item for p in received[receiver]}
        gap = quality.min_gap if quality else MIN_REPEAT_GAP
        found = _take(queues, len(received[receiver]), held, movable, gap)
        if found is None:
            break
        received[receiver].append(found)
    result = []
    for rater, queue in queues.items():
        result += [_placed(p, rater, pos) for pos, p in enumerate(queue, start=1)]
    rng = random.Random(seed)
    for rater, taken in received.items():
        rng.shuffle(taken)
        mine = [_placed(p, rater, pos) for pos, p in enumerate(taken, start=1)]
        if quality:
            mine = add_quality_control(
                mine, quality, seed=seed, raters=[rater], reread=_rereads(result)
            )
        result += mine
    return result


def _placed(placement: Placement, rater: str, position: int) -> Placement:
    if placement.rater == rater and placement.position == position:
        return placement  # frozen, so shared: a million placements are not made twice
    return Placement(
        rater, placement.item, position, placement.order, placement.kind, placement.session
    )


def _by_rater(placements: Sequence[Placement]) -> list[tuple[str, list[Placement]]]:
    groups: dict[str, list[Placement]] = {}
    for placement in placements:
        groups.setdefault(placement.rater, []).append(placement)
    return sorted(groups.items())


def _take(
    queues: dict[str, list[Placement]],
    receiver_load: int,
    held: set[str],
    movable: set[tuple[str, str, str]],
    min_gap: int,
) -> Placement | None:
    """Remove and return the placement a receiver should take over, if moving one helps: from
    the most-loaded rater who has one, the latest study placement in their order that the
    receiver lacks, and whose going leaves the donor's quality control as it was laid out (see
    `_can_leave`). Loads count study placements only."""
    for donor in sorted(queues, key=lambda r: (-_load(queues[r]), r)):
        queue = queues[donor]
        if _load(queue) - receiver_load <= 1:
            return None  # every remaining load is within one of the receiver's
        for index in range(len(queue) - 1, -1, -1):
            placement = queue[index]
            if placement.key not in movable:
                break  # started work, and everything before it, stays where it is
            if placement.kind != STUDY or placement.item in held:
                continue
            if not _can_leave(queue, index, movable, min_gap):
                continue
            # Its repeat, if any, comes later in the queue and so is unstarted: it goes too.
            queue[:] = [
                p for i, p in enumerate(queue) if i != index and not _repeat_of(p, placement)
            ]
            return placement
    return None


def _repeat_of(candidate: Placement, original: Placement) -> bool:
    """Whether `candidate` is the rater's second sight of `original`'s item: a hidden repeat
    or a re-read after the washout."""
    return candidate.kind in SECOND_SIGHTS and candidate.item == original.item


def _can_leave(
    queue: list[Placement], index: int, movable: set, min_gap: int, *, checks_after: bool = True
) -> bool:
    """Whether the study placement at `index` may leave its rater's queue, taking its repeat
    and re-read (if any) with it: they are unstarted; no other repeat comes within `min_gap`
    of its original once the queue closes up; and (`checks_after`) an attention check keeps a study
    item before it."""
    leaving = queue[index]
    removed = {index} | {i for i, p in enumerate(queue) if _repeat_of(p, leaving)}
    if any(queue[i].key not in movable for i in removed):
        return False
    firsts = {p.item: i for i, p in enumerate(queue) if p.kind == STUDY}
    for i, p in enumerate(queue):
        if p.kind != REPEAT or i in removed:
            continue
        first = firsts[p.item]
        closer = sum(first < r < i for r in removed)
        if closer and i - first - closer <= min_gap:
            return False
    if not checks_after:
        return True
    remaining = [i for i, p in enumerate(queue) if p.kind == STUDY and i not in removed]
    checks = [i for i, p in enumerate(queue) if p.kind == ATTENTION]
    return not (remaining and checks and min(checks) < min(remaining))


def _append_in_session(queue: list[Placement], placement: Placement) -> None:
    """Put a placement at the end of its session in a rater's queue: before any later session,
    which opens only once every item of the sessions before it is done."""
    later = [i for i, p in enumerate(queue) if p.session > placement.session]
    queue.insert(later[0] if later else len(queue), placement)


def _load(queue: list[Placement]) -> int:
    return sum(p.kind == STUDY for p in queue)


def reassign(
    *,
    placements: Sequence[Placement],
    rater: str,
    raters: Sequence[str],
    movable: Collection[tuple[str, str, str]],
    seed: int,
    min_gap: int = MIN_REPEAT_GAP,
    closed: Collection[str] = (),
) -> list[Placement]:
    """Hand a rater's unstarted work to the other `raters`, e.g. when a rater stops.

    The raters `closed` to new session-1 work (done with session 1, so their washout runs, or
    reading a later session) take nothing: a new session-1 item would shut their later session
    again and restart the washout.

    The rater's study placements (and adaptive extras) from the end of their order back to the
    last one they started move, each to the least-loaded other rater who does not already have
    the item (ties broken by a seeded draw), at the end of that rater's session 1 (before any
    re-reads). Nothing anyone started moves, and a moved placement keeps its shown order. A
    placement no one else can take stays where it is. The rater's own quality control stays
    with them, except the repeat or re-read of an item that moved; an item whose going would
    bring a repeat within `min_gap` of its original stays.
    """
    movable = set(movable)
    queues = {r: [] for r in raters}
    queues.update({r: sorted(ps, key=lambda p: p.position) for r, ps in _by_rater(placements)})
    if rater not in queues:
        return list(placements)
    others = sorted(r for r in queues if r != rater)
    # An adaptive extra of an item is a sight of it too: its rater cannot take the item again.
    holds = {(p.rater, p.item) for p in placements if p.kind in (STUDY, EXTRA)}
    rng = random.Random(seed)
    queue = queues[rater]
    tail = len(queue)
    while tail and queue[tail - 1].key in movable:
        tail -= 1
    moved = set()
    # An unstarted adaptive extra goes too, to a rater who does not hold the item.
    for placement in [p for p in queue[tail:] if p.kind in (STUDY, EXTRA)]:  # their own order
        draw = {r: rng.random() for r in others}
        takers = [r for r in others if (r, placement.item) not in holds and r not in closed]
        remaining = [p for p in queue if not (p.item in moved and p.kind in _MOVES)]
        # The leaver is stopping: where their own checks fall no longer matters.
        index = remaining.index(placement)
        if not takers or not _can_leave(remaining, index, movable, min_gap, checks_after=False):
            continue  # stays where it is
        taker = min(takers, key=lambda r: (_load(queues[r]), draw[r]))
        holds.add((taker, placement.item))
        _append_in_session(queues[taker], placement)
        moved.add(placement.item)
    # What did not move keeps its order; a moved item's repeat or re-read (unstarted: in the
    # tail) goes.
    queues[rater] = [p for p in queue if not (p.item in moved and p.kind in _MOVES)]
    return [
        _placed(p, r, position)
        for r, queue in queues.items()
        for position, p in enumerate(queue, start=1)
    ]


# --- adaptive extra raters -------------------------------------------------------------------


def extra_placements(
    *,
    item: DesignItem,
    loads: dict[str, int],
    last_positions: dict[str, int],
    seen: Collection[str],
    m: int,
    seed: int,
) -> list[Placement]:
    """Up to `m` more raters for an item whose first ratings disagreed, each given it at the
    end of their order (after `last_positions[rater]`).

    The least-loaded raters (`loads`: their study and extra items) who have not `seen` the item
    are chosen, ties broken by a draw seeded with the seed and the item, so the same study,
    item and loads give the same raters whatever order they come in. A pair or set is shown
    to the chosen raters in turn in the rotations of one seeded order (A-B, then B-A, ...), so
    the m extra raters of one pair do not all see the same side first. Fewer than `m` when
    fewer raters are eligible: the caller records the shortfall.
    """
    if m < 1:
        raise ValueError("m must be at least 1")
    rng = random.Random(f"{seed}\x1fextra\x1f{item.key}")
    eligible = sorted(rater for rater in loads if rater not in set(seen))
    draws = {rater: rng.random() for rater in eligible}
    chosen = sorted(eligible, key=lambda r: (loads[r], draws[r], r))[:m]
    base = _shown_check(item, rng) if len(item.sources) > 1 else ()
    return [
        Placement(rater, item.key, last_positions.get(rater, 0) + 1, _rotated(base, turn), EXTRA)
        for turn, rater in enumerate(sorted(chosen))
    ]


def _rotated(order: tuple[str, ...], turn: int) -> tuple[str, ...]:
    if not order:
        return order
    shift = turn % len(order)
    return order[shift:] + order[:shift]


# --- quality control ------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityControl:
    """What every rater gets besides their share of the study."""

    training: tuple[DesignItem, ...] = ()  # first, in this order, with feedback
    checks: tuple[DesignItem, ...] = ()  # attention checks, hidden among the study items
    repeats: int = 0  # how many of the rater's own items come again, later, unannounced
    min_gap: int = MIN_REPEAT_GAP
    # How many of the rater's own items come back in session 2, after the washout.
    retests: int = 0


def add_quality_control(
    placements: Sequence[Placement],
    quality: QualityControl,
    *,
    seed: int,
    raters: Sequence[str] = (),
    reread: Counter | None = None,
) -> list[Placement]:
    """Each rater's order with quality control added, renumbered from 1.

    Training comes first. Attention checks go to seeded random places among the study items
    (never first). Repeats are drawn from the rater's own items that leave room for the gap,
    each placed at least `min_gap` items after its original, shown in the same order as the
    original, so that a change of answer is the rater's, not the layout's. Each rater's draws
    come from a generator seeded with the seed and the rater, so a rater who joins later gets
    the same as they would have on the first day. `raters` with no study placements still get
    training and attention checks.

    Retests (re-reads after a washout) follow everything else as session 2, in a fresh seeded
    order: see `_with_retests`. `reread` counts the re-reads each item already has among
    raters not given here (a rater joining later).
    """
    groups = dict(_by_rater(placements))
    result = []
    for rater in sorted(set(groups) | set(raters)):
        rng = random.Random(f"{seed}\x1fquality\x1f{rater}")
        sequence = sorted(groups.get(rater, []), key=lambda p: p.position)
        result += _numbered(rater, _with_quality(sequence, quality, rng, rater))
    if quality.retests:
        result = _with_retests(result, quality.retests, seed=seed, reread=Counter(reread or {}))
    return result


def _with_quality(
    sequence: list[Placement], quality: QualityControl, rng: random.Random, rater: str
) -> list[Placement]:
    study = [p for p in sequence if p.kind == STUDY]
    gap = quality.min_gap
    candidates = [p for index, p in enumerate(study) if index + gap < len(study)]
    originals = rng.sample(candidates, min(quality.repeats, len(candidates)))
    sequence = list(sequence)
    for original in sorted(originals, key=lambda p: p.position):
        after = sequence.index(original) + gap + 1
        place = rng.randint(after, len(sequence))
        sequence.insert(place, Placement(rater, original.item, 0, original.order, REPEAT))
    for check in quality.checks:
        order = _shown_check(check, rng)
        place = rng.randint(min(1, len(sequence)), len(sequence))
        sequence.insert(place, Placement(rater, check.key, 0, order, ATTENTION))
    training = [Placement(rater, t.key, 0, t.sources, TRAINING) for t in quality.training]
    return training + sequence


def _shown_check(item: DesignItem, rng: random.Random) -> tuple[str, ...]:
    order = list(item.sources)
    rng.shuffle(order)
    return tuple(order)


def _numbered(rater: str, sequence: list[Placement]) -> list[Placement]:
    return [_placed(p, rater, position) for position, p in enumerate(sequence, start=1)]


# --- re-reads after a washout ---------------------------------------------------------------


def _with_retests(
    placements: list[Placement], retests: int, *, seed: int, reread: Counter
) -> list[Placement]:
    """Each rater's order followed by session 2: `retests` of their own study items, each
    shown as it was the first time (so that a change of answer is the rater's, not the
    layout's), in a seeded order of their own. An item the rater also sees as a hidden repeat
    is not re-read (each first sight has one second sight).

    The items are chosen greedily so that each is re-read by as few raters as possible: raters
    with the fewest items choose first, each taking the items re-read least so far, ties broken
    by a draw seeded with the seed and the rater."""
    groups = _by_rater(placements)
    result = []
    for rater, sequence in sorted(groups, key=lambda group: (_load(group[1]), group[0])):
        rng = random.Random(f"{seed}\x1fretest\x1f{rater}")
        repeated = {p.item for p in sequence if p.kind == REPEAT}
        study = [p for p in sequence if p.kind == STUDY and p.item not in repeated]
        draws = {p.item: rng.random() for p in study}
        chosen = sorted(study, key=lambda p: (reread[p.item], draws[p.item]))[:retests]
        reread.update(p.item for p in chosen)
        rng.shuffle(chosen)
        second = [Placement(rater, p.item, 0, p.order, RETEST, session=2) for p in chosen]
        result += _numbered(rater, sorted(sequence, key=lambda p: p.position) + second)
    return sorted(result, key=lambda p: (p.rater, p.position))


# The longest washout a study may set: a year.
MAX_WASHOUT_DAYS = 365


def washout_problems(*, retests: int, washout_days: int) -> dict[str, str]:
    """What is wrong with a study's re-read settings, by field; empty when nothing is. A
    re-read with no washout would come straight after the first reading, while the rater
    still remembers their answers: it would measure memory, which hidden repeats already
    do, not reliability across occasions."""
    if washout_days > MAX_WASHOUT_DAYS:
        return {"washout_days": f"A washout of at most {MAX_WASHOUT_DAYS} days."}
    if retests and washout_days < 1:
        return {
            "washout_days": "Re-reads after a washout need a washout of at least 1 day: "
            "without one, use hidden repeats."
        }
    return {}


def _rereads(placements: Sequence[Placement]) -> Counter:
    """How many raters re-read each item after the washout."""
    return Counter(p.item for p in placements if p.kind == RETEST)
