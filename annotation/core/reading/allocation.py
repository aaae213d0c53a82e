"""Which reader reads which case in which arm, in which session and order: the two layouts of
an assisted-reading study. Plain data, no Django; seeded, so the same inputs give the same
manifest, and a digest says so.

Arms are "unassisted" and one per assisting source or tool.

- Sequential: one session. Each reader reads every case, in a seeded order of their own, first
  unassisted (phase 1; the answer then locks) and at once again with one assisting arm (phase
  2). With several assisting arms, which one a reader gets for a case is balanced like a Latin
  square: each reader gets each assisting arm on about as many cases, and each case gets each
  assisting arm from about as many readers.
- Crossover: as many sessions as arms, a washout between them. Each reader reads every case
  once in every arm, one arm per session. The arms a (reader, case) pair meets session after
  session follow one row of a Williams design (Williams 1949), a Latin square in which, for an
  even number of arms, every arm follows every other equally often (for an odd number, the
  square and its mirror image together do so). Rows go to (reader, case) pairs cyclically
  (row = reader's place + case's place, modulo the rows), both places seeded: each reader
  meets every row on within one as many cases, and each case meets every row from within one
  as many readers. So, in every session, a reader reads each arm on about as many cases, and
  a case is read in each arm by about as many readers: exactly as many when the cases (and
  the readers) are a multiple of the rows; otherwise within one with an even number of arms,
  within two with an odd one (whose two squares' rows can differ in a session's arm).
"""

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

UNASSISTED = "unassisted"
SEQUENTIAL, CROSSOVER = "sequential", "crossover"
LAYOUTS = (SEQUENTIAL, CROSSOVER)
# The phases of a sequential reading; a crossover reading is one phase.
UNASSISTED_PHASE, ASSISTED_PHASE = 1, 2


@dataclass(frozen=True)
class Reading:
    """One read: `reader` reads `case` in `arm`, in session `session` (1-based), at `position`
    (1-based, unique in the reader's whole order, sessions in turn, as Assignment.position
    is); in the sequential layout a case's phase 1 comes just before its phase 2."""

    reader: str
    case: str
    arm: str
    session: int
    position: int
    phase: int = 1


@dataclass(frozen=True)
class ReadingManifest:
    layout: str
    seed: int
    arms: tuple[str, ...]
    readings: tuple[Reading, ...]

    @property
    def sessions(self) -> int:
        return max((r.session for r in self.readings), default=0)

    @property
    def digest(self) -> str:
        """SHA-256 over the layout, seed, arms and every reading: equal digests, equal
        manifests (the order of the readings, and of the arms, does not count)."""
        rows = sorted(
            (r.reader, r.session, r.position, r.phase, r.case, r.arm) for r in self.readings
        )
        canonical = json.dumps(
            [self.layout, self.seed, sorted(self.arms), rows], separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def williams(n: int) -> list[tuple[int, ...]]:
    """The rows of a Williams design for n treatments 0..n-1: n rows for even n, 2n (the square
    and its mirror image) for odd n. Each row is a sequence of all n treatments; every
    treatment takes every position equally often, and is followed by every other equally
    often."""
    if n < 1:
        raise ValueError("a Williams design needs at least one treatment")
    first, low, high = [0], 1, n - 1
    while len(first) < n:  # 0, 1, n-1, 2, n-2, ...
        first.append(low)
        low += 1
        if len(first) < n:
            first.append(high)
            high -= 1
    rows = [tuple((t + shift) % n for t in first) for shift in range(n)]
    if n % 2:
        rows += [row[::-1] for row in rows]
    return rows


def crossover(
    *, readers: Sequence[str], cases: Sequence[str], arms: Sequence[str], seed: int
) -> ReadingManifest:
    """Every reader reads every case in every arm, one arm per session, as the module says."""
    _check(readers, cases, arms)
    rng = random.Random(seed)
    labels = sorted(arms)
    rng.shuffle(labels)  # which arm plays which treatment of the Williams design
    rows = [tuple(labels[t] for t in row) for row in williams(len(labels))]
    reader_place = _places(readers, rng)
    case_place = _places(cases, rng)
    readings = []
    for reader in sorted(readers):
        for session in range(1, len(labels) + 1):
            order = sorted(cases)
            rng.shuffle(order)
            for place, case in enumerate(order):
                row = rows[(reader_place[reader] + case_place[case]) % len(rows)]
                position = (session - 1) * len(order) + place + 1
                readings.append(Reading(reader, case, row[session - 1], session, position))
    return ReadingManifest(CROSSOVER, seed, tuple(arms), tuple(readings))


def sequential(
    *, readers: Sequence[str], cases: Sequence[str], arms: Sequence[str], seed: int
) -> ReadingManifest:
    """Every reader reads every case unassisted then assisted, in one session, as the module
    says."""
    _check(readers, cases, arms)
    rng = random.Random(seed)
    assisting = sorted(arm for arm in arms if arm != UNASSISTED)
    rng.shuffle(assisting)
    reader_place = _places(readers, rng)
    case_place = _places(cases, rng)
    readings = []
    for reader in sorted(readers):
        order = sorted(cases)
        rng.shuffle(order)
        for place, case in enumerate(order):
            arm = assisting[(reader_place[reader] + case_place[case]) % len(assisting)]
            first = 2 * place + 1
            readings.append(Reading(reader, case, UNASSISTED, 1, first, UNASSISTED_PHASE))
            readings.append(Reading(reader, case, arm, 1, first + 1, ASSISTED_PHASE))
    return ReadingManifest(SEQUENTIAL, seed, tuple(arms), tuple(readings))


def allocate(
    *, layout: str, readers: Sequence[str], cases: Sequence[str], arms: Sequence[str], seed: int
) -> ReadingManifest:
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}: one of {', '.join(LAYOUTS)}")
    build = sequential if layout == SEQUENTIAL else crossover
    return build(readers=readers, cases=cases, arms=arms, seed=seed)


def _places(keys: Sequence[str], rng: random.Random) -> dict[str, int]:
    """A seeded place 0..n-1 for each key (sorted first, so the input order does not count)."""
    shuffled = sorted(keys)
    rng.shuffle(shuffled)
    return {key: place for place, key in enumerate(shuffled)}


def _check(readers: Sequence[str], cases: Sequence[str], arms: Sequence[str]) -> None:
    for name, keys in (("readers", readers), ("cases", cases), ("arms", arms)):
        if not keys:
            raise ValueError(f"no {name}")
        if len(set(keys)) != len(keys):
            raise ValueError(f"{name} must be unique")
    if UNASSISTED not in arms:
        raise ValueError(f"the arms must include {UNASSISTED!r}")
    if len(arms) < 2:
        raise ValueError("an assisted reading needs at least one assisting arm")


def layout_problems(*, layout: str, washout_days: int | None) -> dict[str, str]:
    """What is wrong with a study's layout and washout, by field; empty when nothing is. A
    crossover study needs its washout (whole days, 0 or more: 0 opens the next session as
    soon as the one before is finished); a sequential one reads in one session, so a washout
    would mean nothing."""
    if layout not in LAYOUTS:
        return {"layout": f"The layout is one of {', '.join(LAYOUTS)}."}
    if layout == SEQUENTIAL:
        if washout_days:
            return {
                "washout_days": "Only a crossover study has a washout: a sequential study "
                "reads every case in one session."
            }
        return {}
    if washout_days is None:
        return {
            "washout_days": "A crossover study needs a washout: the whole days (0 or more) a "
            "reader waits after finishing one session before the next opens."
        }
    if washout_days < 0:
        return {"washout_days": "The washout is a whole number of days, 0 or more."}
    return {}


def opens_at(*, previous_finished: datetime, washout_days: int) -> datetime:
    """When a crossover session opens for a reader: `washout_days` after they finished the
    session before it (their last read in it), so the washout is the reader's own."""
    if washout_days < 0:
        raise ValueError("the washout is a number of days, 0 or more")
    return previous_finished + timedelta(days=washout_days)


def is_open(
    *, session: int, previous_finished: datetime | None, washout_days: int, now: datetime
) -> bool:
    """The first session is open at once; a later one once the session before it is finished
    (`previous_finished` not None) and its washout has passed."""
    if session == 1:
        return True
    if previous_finished is None:
        return False
    return now >= opens_at(previous_finished=previous_finished, washout_days=washout_days)


def scorer_order(keys: Sequence[str], *, scorer: str, seed: int) -> list[str]:
    """The order in which a scorer sees the answers to decide (`keys`: their opaque tokens):
    sorted, then shuffled by a generator seeded from the study's seed and the scorer. The
    order the answers arrived in follows reader, session and arm; this order follows none of
    them, and differs between scorers."""
    order = sorted(keys)
    random.Random(f"{seed}:{scorer}").shuffle(order)
    return order
