"""Is a study on track, and are its ratings believable? Plain functions over plain data: the
pace of submits and when the work will be done, implausibly fast items, and straight-lining.
No Django here; `annotation.selectors.study_pace` and `study_data_quality` gather the data."""

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta

RATE_WINDOW_DAYS = 7  # the ETA extrapolates the last week's pace
STALL_DAYS = 3  # a rater with work left and no submit for this long has stalled
FAST_FLOOR_SECONDS = 3.0  # nobody reads a case and an output faster than this
FAST_SHARE_OF_MEDIAN = 0.2  # ...or in a fifth of the study's median time per item
STRAIGHT_LINE_SHARE = 0.9  # this share of one answer...
STRAIGHT_LINE_MIN_ANSWERS = 10  # ...over at least this many answers is straight-lining


def per_day(days: Sequence[date], *, today: date, span: int = 14) -> list[tuple[date, int]]:
    """Submits per day over the last `span` days, oldest first, days without any included."""
    counts = Counter(days)
    return [(today - timedelta(days=n), counts[today - timedelta(days=n)]) for n in range(span)][
        ::-1
    ]


def eta_days(remaining: int, days: Sequence[date], *, today: date) -> float | None:
    """Days until `remaining` items are done at the last week's pace; None without a pace."""
    if remaining <= 0:
        return 0.0
    start = today - timedelta(days=RATE_WINDOW_DAYS - 1)
    recent = sum(1 for day in days if start <= day <= today)
    if not recent:
        return None
    return remaining / (recent / RATE_WINDOW_DAYS)


def fast_threshold(seconds: Sequence[float]) -> float:
    """Below this many seconds an item was implausibly fast: a fifth of the study's median
    time per item, and never under FAST_FLOOR_SECONDS."""
    timed = [s for s in seconds if s > 0]
    if not timed:
        return FAST_FLOOR_SECONDS
    return max(FAST_FLOOR_SECONDS, FAST_SHARE_OF_MEDIAN * statistics.median(timed))


def straight_lining(values: Sequence[float]) -> float | None:
    """The share of a rater's answers equal to their most common one, or None with fewer than
    STRAIGHT_LINE_MIN_ANSWERS answers (too few to tell a habit from a run of like outputs)."""
    if len(values) < STRAIGHT_LINE_MIN_ANSWERS:
        return None
    return Counter(values).most_common(1)[0][1] / len(values)


def median_or_none(values: Sequence[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.median(finite) if finite else None
