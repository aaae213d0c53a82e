"""The pure pieces of assisted reading together, as the study's services will use them: a
crossover allocated, every read answered and scored against the case's accepted answers (a
scorer deciding what the match could not), and the statistics run on the scored reads."""

import random

import numpy as np

from annotation.core.reading import statistics as s
from annotation.core.reading.allocation import UNASSISTED, crossover, sequential
from annotation.core.reading.scoring import (
    RANKED,
    RIGHT,
    UNDECIDED,
    Accepted,
    Decision,
    Expected,
    decide,
    score,
)
from annotation.core.stats.names import RANDOM_BOTH

ARMS = [UNASSISTED, "llm", "search"]
READERS = [f"R{n}" for n in range(6)]
CASES = {
    f"case{n}": Expected(RANKED, (Accepted(f"disease {n}", (f"dx{n}",)),), k=5) for n in range(12)
}
# How often a reader's list holds the answer, per arm.
HIT = {UNASSISTED: 0.4, "llm": 0.7, "search": 0.5}


def answer(rng: random.Random, case: str, arm: str) -> list[str]:
    """A list of 3 entries; with probability HIT[arm] one of them is the answer, in one of its
    wordings or in one the import did not list (which a scorer must decide)."""
    n = int(case.removeprefix("case"))
    entries = [f"other {rng.randrange(100)}" for _ in range(3)]
    if rng.random() < HIT[arm]:
        entries[rng.randrange(3)] = rng.choice([f"Disease {n}", f"DX{n}", f"disease no. {n}"])
    return entries


def scorer(entries: list[str], case: str) -> Decision:
    """The scorer recognises the unlisted wording too."""
    n = int(case.removeprefix("case"))
    for rank, entry in enumerate(entries, start=1):
        if entry.lower() in {f"disease {n}", f"dx{n}", f"disease no. {n}"}:
            return Decision(rank=rank)
    return Decision(rank=None)


def scored_reads(manifest, seed: int) -> tuple[list[s.Read], int]:
    rng = random.Random(seed)
    reads, undecided = [], 0
    for reading in manifest.readings:
        entries = answer(rng, reading.case, reading.arm)
        result = score(entries, CASES[reading.case])
        if result.outcome == UNDECIDED or (result.rank or 1) > 1:
            undecided += result.outcome == UNDECIDED
            result = decide(result, scorer(entries, reading.case))
        right = result.outcome == RIGHT
        seconds = 60 + rng.random() * 60
        reads.append(s.Read(reading.reader, reading.case, reading.arm, right, seconds, result.rank))
    return reads, undecided


def test_crossover_to_statistics():
    manifest = crossover(readers=READERS, cases=list(CASES), arms=ARMS, seed=3)
    reads, undecided = scored_reads(manifest, seed=4)
    assert len(reads) == len(READERS) * len(CASES) * len(ARMS)
    assert undecided > 0  # the unlisted wording reached the scorer
    accuracy = {a.arm: a.accuracy for a in s.accuracy_by_arm(reads)}
    assert set(accuracy) == set(ARMS)
    result = s.mrmc_by_arm(reads, arms=["llm", UNASSISTED, "search"])
    assert result.modalities == ("llm", UNASSISTED, "search")
    assert np.allclose(np.mean(result.figures, axis=1), [accuracy[a] for a in result.modalities])
    both = next(a for a in result.analyses if a.question == RANDOM_BOTH)
    assert [(d.first, d.second) for d in both.differences] == [
        ("llm", UNASSISTED),
        ("llm", "search"),
        (UNASSISTED, "search"),
    ]
    paired = s.pairs(reads, second="llm")
    assert len(paired) == len(READERS) * len(CASES)
    test = s.mcnemar(paired)
    assert test.helped - test.harmed == sum(p.second for p in paired) - sum(p.first for p in paired)
    assert {t.arm for t in s.time_by_arm(reads)} == set(ARMS)
    # Lists hold 3 entries and k is 5: top-5 accuracy is the accuracy itself.
    assert s.accuracy_by_arm(reads, top=5) == s.accuracy_by_arm(reads)


def test_sequential_to_paired_statistics():
    manifest = sequential(readers=READERS, cases=list(CASES), arms=[UNASSISTED, "llm"], seed=5)
    reads, _ = scored_reads(manifest, seed=6)
    paired = s.pairs(reads, second="llm")
    assert len(paired) == len(READERS) * len(CASES)
    changes = s.changes(paired, resamples=200, seed=1)
    assert changes.rate("helped").count == s.mcnemar(paired).helped
    result = s.mrmc_by_arm(reads, arms=["llm", UNASSISTED])  # one assisting arm: fully crossed
    assert result.n_cases == len(CASES)
