"""How fast agreement with a bootstrap interval is, at the scale of the largest published
clinical reader studies.

    make bench-agreement

Two data sets on a 5-point scale, raters agreeing with each other as clinicians roughly do:
paper scale (18 raters, 4,500 units, about 80,000 ratings, some missing) and large (20 raters x
100,000 units, 2,000,000 ratings). For each of the four levels it times Krippendorff's alpha
with a 1,000-resample unit bootstrap, and one plain `krippendorff.alpha` call on the same data
in the same run, each the best of three on fresh objects so nothing is cached. The issue's
targets are at most 1 s each and at most 20x that call (a loop of 1,000 calls is about 1,000x).
Each data set runs in a process of its own so its peak RSS is its own.
"""

import multiprocessing
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import krippendorff  # noqa: E402

from annotation.core.stats import coefficients  # noqa: E402
from annotation.core.stats.data import LEVELS, Ratings  # noqa: E402
from annotation.core.stats.resampling import Bootstrap  # noqa: E402

SCALE = np.arange(1, 6)
RESAMPLES = 1000
TARGET_SECONDS = 1.0
TARGET_RATIO = 20.0
REPEATS = 3


def make_data(n_raters: int, n_units: int, missing: float, seed: int) -> Ratings:
    """Ratings indexed as the statistics code holds them: each unit has a true grade, each
    rater a leniency, and each rating some noise; `missing` of the cells are left out."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 5, n_units)
    leniency = rng.choice([-1, 0, 0, 0, 1], n_raters)
    noise = rng.choice([-1, 0, 0, 0, 0, 1], (n_raters, n_units))
    grid = np.clip(truth[None, :] + leniency[:, None] + noise, 0, 4)
    keep = rng.random((n_raters, n_units)) >= missing
    raters, units = np.nonzero(keep)
    return Ratings(
        units=tuple(f"u{i}" for i in range(n_units)),
        raters=tuple(f"r{i}" for i in range(n_raters)),
        categories=tuple(int(v) for v in SCALE),
        numbers=SCALE.astype(float),
        level="ordinal",
        unit_index=units,
        rater_index=raters,
        position=grid[raters, units],
    )


def best_of(repeats: int, work) -> float:
    """The fastest of a few runs, for both sides alike: timer noise only ever adds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(name: str, n_raters: int, n_units: int, missing: float, queue) -> None:
    data = make_data(n_raters, n_units, missing, seed=1)
    rows = []
    for level in LEVELS:
        ratings = Ratings(**{**data.__dict__, "level": level})
        matrix = ratings.values_matrix()
        one_call = best_of(
            REPEATS,
            lambda matrix=matrix, level=level: krippendorff.alpha(
                reliability_data=matrix, level_of_measurement=level, value_domain=list(SCALE)
            ),
        )
        ours = best_of(
            REPEATS,
            lambda level=level: coefficients.krippendorff_alpha(
                Ratings(**{**data.__dict__, "level": level}),
                bootstrap=Bootstrap(resamples=RESAMPLES, seed=0),
            ),
        )
        result = coefficients.krippendorff_alpha(
            ratings, bootstrap=Bootstrap(resamples=RESAMPLES, seed=0)
        )
        rows.append((level, result.value, result.ci, ours, one_call))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((name, data.n_ratings, rows, peak_mb))


def main() -> None:
    sets = [
        ("paper scale: 18 raters x 4,500 units", 18, 4_500, 0.013),
        ("large: 20 raters x 100,000 units", 20, 100_000, 0.0),
    ]
    print(f"Krippendorff's alpha with a {RESAMPLES}-resample unit bootstrap, per level")
    print(f"targets: at most {TARGET_SECONDS:.0f} s, at most {TARGET_RATIO:.0f}x one plain call\n")
    context = multiprocessing.get_context("spawn")
    for name, n_raters, n_units, missing in sets:
        queue = context.Queue()
        process = context.Process(target=measure, args=(name, n_raters, n_units, missing, queue))
        process.start()
        name, n_ratings, rows, peak_mb = queue.get()
        process.join()
        print(f"{name} ({n_ratings:,} ratings), peak RSS {peak_mb:.0f} MB")
        header = ("level", "alpha", "95% CI", "with CI", "one call", "ratio")
        print("  {:<9} {:>6} {:>17} {:>9} {:>9} {:>7}".format(*header))
        for level, value, ci, ours, one_call in rows:
            ratio = ours / one_call
            verdict = "met" if ours <= TARGET_SECONDS and ratio <= TARGET_RATIO else "MISSED"
            print(
                f"  {level:<9} {value:6.3f} [{ci[0]:.3f}, {ci[1]:.3f}] {ours:8.3f}s"
                f" {one_call:8.3f}s {ratio:6.1f}x  {verdict}"
            )
        print()


if __name__ == "__main__":
    main()
