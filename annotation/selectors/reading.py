"""Assisted reading as its admins read it on the dashboard: the stored statistics per arm
(annotation.services.statistics.reading), and how many answers wait for the scorer."""

from dataclasses import dataclass

from annotation.models import AnswerScore, Result, Study

ACCURACY, MCNEMAR, CHANGES, MRMC = (
    "reading_accuracy",
    "reading_mcnemar",
    "reading_helped_harmed",
    "reading_mrmc",
)


@dataclass(frozen=True)
class ArmRow:
    arm: str
    accuracy: float | None
    right: int
    reads: int
    pending: int


@dataclass(frozen=True)
class AssistedRow:
    """One assisting arm against the unassisted reads of the same readers and cases."""

    arm: str
    pairs: int
    helped: int
    harmed: int
    helped_rate: float | None
    helped_interval: list | None  # readers and cases resampled
    exact_p: float | None
    chi2_p: float | None


@dataclass(frozen=True)
class ReadingSummary:
    arms: list[ArmRow]
    assisted: list[AssistedRow]
    mrmc: dict | None  # readers and cases random: the difference, its CI and p
    undecided: int


def reading_summary(*, study: Study) -> ReadingSummary:
    results = {
        (r.statistic, r.source): r
        for r in Result.objects.filter(
            study=study, statistic__in=(ACCURACY, MCNEMAR, CHANGES, MRMC)
        )
    }
    arms = [
        ArmRow(source, r.value, r.detail.get("right", 0), r.n_ratings, r.detail.get("pending", 0))
        for (statistic, source), r in sorted(results.items())
        if statistic == ACCURACY
    ]
    assisted = [
        _assisted(arm, test, results.get((CHANGES, arm)))
        for (statistic, arm), test in sorted(results.items())
        if statistic == MCNEMAR
    ]
    mrmc = next((r for (statistic, _), r in results.items() if statistic == MRMC), None)
    undecided = AnswerScore.objects.filter(
        rating__assignment__study=study, outcome=AnswerScore.Outcome.UNDECIDED
    ).count()
    return ReadingSummary(arms, assisted, _mrmc_row(mrmc), undecided)


def _assisted(arm: str, test: Result, changes: Result | None) -> AssistedRow:
    helped = next(
        (rate for rate in (changes.detail["rates"] if changes else []) if rate["name"] == "helped"),
        None,
    )
    interval = helped["intervals"][-1] if helped else None
    return AssistedRow(
        arm=arm,
        pairs=test.detail["n_pairs"],
        helped=test.detail["helped"],
        harmed=test.detail["harmed"],
        helped_rate=helped["value"] if helped else None,
        helped_interval=interval,
        exact_p=test.detail["exact_p"],
        chi2_p=test.detail["chi2_p"],
    )


def _mrmc_row(result: Result | None) -> dict | None:
    if result is None:
        return None
    analysis = result.detail["analyses"][0]
    difference = analysis["differences"][0] if analysis["differences"] else None
    return {"source": result.source, "question": analysis["question"], "difference": difference}
