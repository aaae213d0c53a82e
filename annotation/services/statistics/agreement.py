"""Agreement for one question: every coefficient over all sources and per source, for the raters
alone and with each LLM judge added as one more rater; and test-retest where raters saw hidden
repeats. The coefficients themselves are `annotation.core.stats.coefficients`.

Each coefficient's headline interval (the unit bootstrap, BCa for the kappa-type coefficients
and alpha; McGraw & Wong's F for ICC) has beside it, in `other_intervals`, the interval for
raters like these on cases like these, or the reason there is none: both as
`annotation.core.stats.reported` chooses them, which the `agreement` command uses too."""

from dataclasses import replace
from operator import itemgetter

import numpy as np

from annotation.core import rubric
from annotation.core.stats import coefficients, reported
from annotation.core.stats.data import (
    DataError,
    Ratings,
    ratings_from_codes,
    ratings_from_columns,
)
from annotation.core.stats.names import COEFFICIENTS, RETEST
from annotation.models import Assignment, Question, Result, Study
from annotation.services.statistics.rows import (
    Ranked,
    Row,
    human_rows,
    rows_digest,
    unit_of,
)
from annotation.services.statistics.store import Figure, Scope, bootstrap_for, store_family


def question_agreement(
    study: Study,
    question: Question,
    humans: list[Row],
    judged: dict[str, list[Row]],
    ranked: Ranked | None = None,
) -> list[Result]:
    """`ranked`, `Ranked.of(humans)` when the caller has it: the raters' scopes are digested
    from it rather than each ranked again."""
    results = []
    domain = rubric.value_domain(question.spec)
    for source in _sources(humans, ranked):
        for judge in ["", *judged]:
            scope = Scope(question, source, judge)
            if ranked and not judge:
                # The raters alone, from their ranks: no list of a million rows per scope.
                keep = _kept(ranked, source)
                digest = ranked.digest(keep)
                compute = lambda keep=keep: _figures_ranked(ranked, keep, question, study)  # noqa: E731
            else:
                rows = _scoped(humans, source) + _scoped(judged.get(judge, []), source)
                digest = rows_digest(rows)
                compute = lambda rows=rows, judge=judge: _figures(  # noqa: E731
                    rows, question, study, judge=judge
                )
            inputs = [digest, question.level, domain]
            results += store_family(study, scope, COEFFICIENTS, inputs, compute)
    return results


def _kept(ranked: Ranked, source: str) -> np.ndarray | None:
    """Which of the ranked rows are `_scoped(rows, source)` (None: all of them): their digest
    is `ranked.digest(_kept(ranked, source))`."""
    if not source:
        return None
    return ranked.where(1, source) & ranked.where(2, "")


def _sources(humans: list[Row], ranked: Ranked | None = None) -> list[str]:
    """Every source together (""), then each alone when there is more than one; per output only,
    as a pair's unit belongs to two sources."""
    if ranked is not None:  # from the ranks: which sources rows about one output have
        alone = ranked.codes[1][ranked.where(2, "")]
        present = np.flatnonzero(np.bincount(alone, minlength=len(ranked.labels[1])))
        sources = [ranked.labels[1][k] for k in present.tolist() if ranked.labels[1][k]]
    else:  # `about_one_output` inline: a million rows, no call each.
        sources = sorted({row[1] for row in humans if row[1] and not row[2]})
    return [""] + (sources if len(sources) > 1 else [])


def _scoped(rows: list[Row], source: str) -> list[Row]:
    """The rows of a scope: every row for every source (""), else the rows about one output
    of that source; without a call per row (a million rows per scope)."""
    if not source:
        return list(rows)
    return [row for row in rows if row[1] == source and not row[2]]


def _figures(
    rows: list[Row], question: Question, study: Study, *, judge: str = ""
) -> dict[str, Figure]:
    # Columns rather than an object per rating: at a million ratings that is seconds.
    raters, values = (list(map(itemgetter(k), rows)) for k in (3, 4))
    columns = (_unit_names(rows), raters, values)
    estimates = estimates_for(
        columns, question, study, raters_like_these=JUDGE_NOT_DRAWN if judge else ""
    )
    # A unit is one case's output from one source (or a pair's): over every source a case has
    # several units. Kept so that a plan in cases (selectors.planning) can convert.
    n_cases = len({row[0] for row in rows})
    return {
        key: Figure.of(estimate, level=question.level, n_cases=n_cases)
        for key, estimate in estimates.items()
    }


def _figures_ranked(
    ranked: Ranked, keep: np.ndarray | None, question: Question, study: Study
) -> dict[str, Figure]:
    """`_figures` of the raters' rows `keep` picks, from their ranks: the ratings indexed from
    the codes (`ratings_from_codes`) rather than from a million names, in the same order, so
    the same figures to the last bit."""
    at = np.arange(len(ranked.rows)) if keep is None else np.flatnonzero(keep)
    case, source, second, rater, value = (column[at] for column in ranked.codes)
    sizes = [len(labels) for labels in ranked.labels[:3]]
    unit = (case.astype(np.int64) * sizes[1] + source) * sizes[2] + second
    ratings = None
    if len(at):
        ratings = ratings_from_codes(
            (unit, _UnitOfKey(ranked.labels[:3], sizes)),
            (rater, ranked.labels[3]),
            (value, ranked.labels[4]),
            level=question.level,
            categories=rubric.value_domain(question.spec),
        )
    if ratings is None:  # no rows, or rows at fault: as from the rows, which says what is wrong
        return _figures([ranked.rows[i] for i in at.tolist()], question, study)
    estimates = estimates_for(None, question, study, ratings=ratings)
    n_cases = int(np.count_nonzero(np.bincount(case)))
    return {
        key: Figure.of(estimate, level=question.level, n_cases=n_cases)
        for key, estimate in estimates.items()
    }


class _UnitOfKey:
    """A unit's name (`unit_of`) from its key in `_figures_ranked`: the positions of its case,
    source and second source among their labels, as one number."""

    def __init__(self, labels: list[list], sizes: list[int]) -> None:
        self.labels, self.sizes = labels, sizes

    def __getitem__(self, key: int) -> str:
        rest, second = divmod(key, self.sizes[2])
        case, source = divmod(rest, self.sizes[1])
        cases, sources, seconds = self.labels
        return unit_of((cases[case], sources[source], seconds[second]))


def _unit_names(rows: list[Row]) -> list[str]:
    """Each row's unit as `unit_of` names it, one name per unit shared by its rows: each name
    is made once, the first time its unit is seen, and the rest found by a dict lookup in C
    (a million rows without a million strings made and dropped: tens of MB at the worker's
    peak)."""
    return list(map(_UnitNames().__getitem__, map(itemgetter(0, 1, 2), rows)))


class _UnitNames(dict):
    """(case id, source, second) -> the unit's name, made on first sight."""

    def __missing__(self, parts: tuple) -> str:
        name = self[parts] = unit_of(parts)
        return name


def estimates_for(
    columns: tuple[list, list, list] | None,
    question: Question,
    study: Study,
    *,
    alpha_only=False,
    raters_like_these: str = "",
    ratings: Ratings | None = None,
) -> dict[str, coefficients.Estimate]:
    """Every coefficient that applies, keyed as stored; the six ICC forms one key each. With
    no rating at all, or a scale the level cannot use, alpha alone, undefined, says why.
    Each coefficient but ICC gets the raters-and-cases interval beside its own, or, with
    `raters_like_these` a reason, none, saying that reason. `columns` are the ratings' units,
    raters and values, in parallel; or `ratings`, checked and indexed already."""
    level = question.level
    if ratings is None:
        if not columns or not columns[0]:
            return {"krippendorff_alpha": _undefined(level, "no unit has two or more ratings")}
        try:
            ratings = ratings_from_columns(
                *columns, level=level, categories=rubric.value_domain(question.spec)
            )
        except DataError as exc:
            if exc.index is not None:
                raise  # one rating at fault (a second rating of a unit): a bug upstream
            # The scale itself, e.g. a ratio-level question whose scale has negative points:
            # that question has no coefficients, and says why; the other questions' go on.
            return {"krippendorff_alpha": _undefined(level, str(exc))}
    bootstrap = bootstrap_for(study)
    if alpha_only:  # test-retest: BCa over cases, as alpha's interval for these raters
        bca = replace(bootstrap, kind="bca")
        return {"krippendorff_alpha": coefficients.krippendorff_alpha(ratings, bootstrap=bca)}
    estimates = reported.reported_coefficients(
        ratings, bootstrap=bootstrap, no_raters_like_these=raters_like_these
    )
    for form, estimate in estimates.pop("icc", {}).items():
        estimates[f"icc_{form}"] = estimate
    return estimates


# Why a coefficient with an LLM judge added has no raters-like-these interval.
JUDGE_NOT_DRAWN = (
    "an LLM judge is one fixed rater, not one of a panel drawn from raters like these: "
    "see the raters-alone column"
)


def _undefined(level: str, reason: str) -> coefficients.Estimate:
    return coefficients.Estimate(
        method=f"Krippendorff's alpha, {level} metric",
        value=None,
        n_units=0,
        n_raters=0,
        n_ratings=0,
        reason=reason,
    )


def test_retest(study: Study, question: Question) -> Result:
    """Each rater against themselves: for every item a rater saw twice (the second a hidden
    repeat), one unit with the two answers, the occasions as the two "raters"."""
    kinds = [Assignment.Kind.STUDY, Assignment.Kind.REPEAT]
    coded = human_rows(study, question, kinds=kinds, with_kind=True)
    repeated = {(row[3], *row[:3]) for row in coded if row[5] == Assignment.Kind.REPEAT}
    rows = sorted(row for row in coded if (row[3], *row[:3]) in repeated)

    def compute() -> dict[str, Figure]:
        units = [f"{row[3]}\x1f{unit_of(row)}" for row in rows]
        columns = (units, [row[5] for row in rows], [row[4] for row in rows])
        alpha = estimates_for(columns, question, study, alpha_only=True)
        return {RETEST: Figure.of(alpha["krippendorff_alpha"], level=question.level)}

    inputs = [rows, question.level, rubric.value_domain(question.spec)]
    return store_family(study, Scope(question), (RETEST,), inputs, compute)[0]
