"""Multi-reader multi-case (MRMC) comparison of modalities: the Obuchowski-Rockette method with
Hillis's degrees of freedom, as plain data.

Readers (clinicians) read the same cases under two or more modalities (sources, arms, with and
without assistance); each reader's figure of merit under each modality (empirical AUC against a
truth, mean score, or a proportion such as accuracy) varies with the reader and with the cases.
`mrmc` answers, each result naming its question: readers like these on cases like these (both
random, the generalisable answer), these readers on cases like these (readers fixed), and
readers like these on these cases (cases fixed); each modality alone with its interval.

- `readings`: the checked crossed design, the figures of merit, their jackknife and bootstrap
  covariances over cases.
- `analysis`: mean squares, the three analyses, each modality alone.
- `sizing`: `mrmc_power`, the power of the random-readers, random-cases test for a planned
  number of readers and cases from pilot variance components.
"""

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from annotation.core.stats.mrmc.analysis import (
    FIXED_CASES,
    FIXED_READERS,
    RANDOM_BOTH,
    Alone,
    Analysis,
    Components,
    Difference,
    Test,
    analyses,
    components,
    plain,
)
from annotation.core.stats.mrmc.readings import (
    FIGURES,
    JACKKNIFE,
    Covariances,
    Readings,
    bootstrap_covariances,
    figures_of_merit,
    jackknife_covariances,
    readings_from,
)
from annotation.core.stats.mrmc.sizing import Power, mrmc_power

COVARIANCES = ("jackknife", "bootstrap")


@dataclass(frozen=True)
class Mrmc:
    figure: str
    modalities: tuple[str, ...]
    readers: tuple[str, ...]
    n_cases: int
    figures: tuple[tuple[float, ...], ...]  # modalities x readers
    components: Components
    analyses: tuple[Analysis, ...]  # random readers and cases, fixed readers, fixed cases
    level: float

    def as_dict(self) -> dict:
        return plain(self)


def mrmc(
    rows: Iterable[Sequence],
    *,
    figure: str,
    truth: Mapping[Hashable, int] | None = None,
    level: float = 0.95,
    covariance: str = "jackknife",
    resamples: int = 1000,
    seed: int = 0,
) -> Mrmc:
    """The MRMC analyses of (reader, case, modality, value) rows, every reader reading every
    case under every modality. `figure` is "auc" (with `truth`, case -> 0/1), "mean" or
    "proportion" (values 0/1). Covariances over cases by the jackknife (the published method)
    or a seeded bootstrap of `resamples` draws. Differences are first minus second, modalities
    in the order first seen. `rows` may be `Readings` already checked (as `readings_from` gives
    them, for this figure): a caller holding a million readings as arrays builds no tuples."""
    if covariance not in COVARIANCES:
        raise ValueError(f"covariance must be one of {', '.join(COVARIANCES)}")
    if isinstance(rows, Readings):
        readings = rows
    else:
        readings = readings_from(rows, figure=figure, truth=truth)
    figures = figures_of_merit(readings)
    if covariance == "jackknife":
        covariances = jackknife_covariances(readings)
    else:
        covariances = bootstrap_covariances(readings, resamples=resamples, seed=seed)
    return Mrmc(
        figure,
        tuple(str(m) for m in readings.modalities),
        tuple(str(r) for r in readings.readers),
        len(readings.cases),
        tuple(tuple(float(v) for v in row) for row in figures),
        components(figures, covariances),
        analyses(figures, readings.modalities, covariances, level=level),
        level,
    )


__all__ = [
    "COVARIANCES",
    "FIGURES",
    "FIXED_CASES",
    "FIXED_READERS",
    "JACKKNIFE",
    "RANDOM_BOTH",
    "Alone",
    "Analysis",
    "Components",
    "Covariances",
    "Difference",
    "Mrmc",
    "Power",
    "Readings",
    "Test",
    "analyses",
    "bootstrap_covariances",
    "components",
    "figures_of_merit",
    "jackknife_covariances",
    "mrmc",
    "mrmc_power",
    "readings_from",
]
