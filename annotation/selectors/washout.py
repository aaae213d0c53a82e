"""Test-retest across a washout as the dashboard shows it: the overall weighted kappa and ICC of
one question, then each rater's, read from the stored results (services.statistics.washout)."""

from dataclasses import dataclass

from annotation.core.stats.names import WASHOUT_ICC, WASHOUT_KAPPA
from annotation.models import Result

RATER_PREFIX = "rater "  # how the service keys each rater's figure in the result's detail


@dataclass(frozen=True)
class WashoutRow:
    label: str  # "All raters", or a rater's pseudonym
    kappa: dict | None  # an estimate as stored: value, ci, n_units, reason...
    icc: dict | None


@dataclass(frozen=True)
class WashoutRetest:
    kappa: Result | None
    icc: Result | None
    rows: list[WashoutRow]

    @property
    def method(self) -> dict:
        """The overall kappa's stored detail: its method and the question its interval answers."""
        return (self.kappa or self.icc).detail


def washout_retest_of(mine: dict[tuple[str, str, str], Result]) -> WashoutRetest | None:
    """From one question's results keyed (statistic, source, judge); None without re-reads."""
    kappa, icc = mine.get((WASHOUT_KAPPA, "", "")), mine.get((WASHOUT_ICC, "", ""))
    if kappa is None and icc is None:
        return None
    raters = sorted(
        key[len(RATER_PREFIX) :] for key in (kappa or icc).detail if key.startswith(RATER_PREFIX)
    )
    rows = [WashoutRow("All raters", _whole(kappa), _whole(icc))]
    rows += [WashoutRow(rater, _nested(kappa, rater), _nested(icc, rater)) for rater in raters]
    return WashoutRetest(kappa=kappa, icc=icc, rows=rows)


def _whole(result: Result | None) -> dict | None:
    return None if result is None else {**result.detail, "value": result.value}


def _nested(result: Result | None, rater: str) -> dict | None:
    return None if result is None else result.detail.get(RATER_PREFIX + rater)


def washout_facts(question_key: str, mine: dict[str, Result]) -> list[str]:
    """The methods text's sentence on one question's test-retest across the washout, from its
    results keyed by statistic; [] without re-reads."""
    kappa, icc = mine.get(WASHOUT_KAPPA), mine.get(WASHOUT_ICC)
    if kappa is None and icc is None:
        return []
    parts = [_described(result) for result in (kappa, icc) if result is not None]
    lead = kappa or icc
    raters = lead.detail.get("n_rater_pairs", 0)
    # The pairs are (rater, item): an item re-read by several raters is one item of several pairs,
    # and the pooled interval resamples the items' cases.
    items, cases = lead.detail.get("n_items"), lead.detail.get("n_cases")
    reread = f"{lead.n_units} re-reads of {items} items" if items else f"{lead.n_units} re-reads"
    if items and cases:
        reread += f" of {cases} case{'' if cases == 1 else 's'}"
    return [
        f'Question "{question_key}": test-retest across the washout (each rater\'s first '
        "reading of an item against their re-read of it in session 2, apart from hidden "
        f"repeats), {reread} by {raters} rater{'' if raters == 1 else 's'}: "
        + "; ".join(parts)
        + ". Each rater's own figures are in agreement.csv."
    ]


def _described(result: Result) -> str:
    detail = result.detail
    method = detail.get("method", result.statistic)
    if result.value is None:
        return f"{method} undefined ({detail.get('reason', 'no pairs')})"
    text = f"{method} = {result.value:.3f}"
    if detail.get("ci"):
        low, high = detail["ci"]
        text += (
            f" (95% CI {low:.3f} to {high:.3f}, {detail.get('ci_method', '')}, for "
            f"{detail.get('interval_question', '')})"
        )
    return text
