"""One question's agreement and mean score within each group of raters, the groups being the
answers to the study's first single-choice background question (typically the specialty):
Krippendorff's alpha among the group's raters, with its BCa interval over cases, and the mean
code of their ratings of single outputs. Stored with the other statistics so the dashboard
reads them rather than computing them. Raters who withdrew stay in (docs/consent.md)."""

import hashlib
from statistics import fmean

from annotation.core import rubric
from annotation.models import Question, RaterQuestion, Result, Study
from annotation.selectors import split_question, study_raters_background
from annotation.services.statistics.agreement import estimates_for
from annotation.services.statistics.rows import Row, rows_digest, unit_of
from annotation.services.statistics.store import Figure, Scope, store_family

GROUP_ALPHA = "group_alpha"
GROUP_MEAN = "group_mean"
# Kinds whose codes average into a score: not a pair's preference or a rank.
_NO_MEAN = (Question.Kind.PAIRWISE, Question.Kind.RANKING)


def group_statistic(measure: str, value: str) -> str:
    """The stored statistic's name for one measure of one group, e.g. "group_alpha:emergency".
    A value too long for the name (Result.statistic holds 50) is named by a short hash of it
    rather than cut, so two long values sharing a beginning stay apart; the dashboard shows the
    label kept in the result's detail."""
    name = f"{measure}:{value}"
    if len(name) <= _NAME_LENGTH:
        return name
    return f"{measure}:{hashlib.sha256(value.encode()).hexdigest()[:16]}"


_NAME_LENGTH = Result._meta.get_field("statistic").max_length


def question_subgroups(study: Study, question: Question, humans: list[Row]) -> list[Result]:
    split = split_question(study=study)
    if split is None:
        return []
    results = []
    for value, pseudonyms in _groups(study, split).items():
        rows = [row for row in humans if row[3] in pseudonyms]
        statistics = (group_statistic(GROUP_ALPHA, value), group_statistic(GROUP_MEAN, value))
        about = {"group_key": split.key, "group": value, "label": split.label_of(value)}
        inputs = [rows_digest(rows), question.level, rubric.value_domain(question.spec), about]
        results += store_family(
            study,
            Scope(question),
            statistics,
            inputs,
            lambda rows=rows, about=about: _figures(rows, question, study, about),
        )
    return results


def _groups(study: Study, split: RaterQuestion) -> dict[str, set[str]]:
    """The pseudonyms of the raters who gave each answer, in the question's order."""
    groups: dict[str, set[str]] = {str(v): set() for v in split.spec.values}
    for rater in study_raters_background(study=study):
        answer = rater.answers.get(split.key)
        if answer is not None:
            groups[str(answer)].add(rater.pseudonym)
    return {value: names for value, names in groups.items() if names}


def _figures(rows: list[Row], question: Question, study: Study, about: dict) -> dict:
    columns = ([unit_of(row) for row in rows], [row[3] for row in rows], [row[4] for row in rows])
    alpha = estimates_for(columns, question, study, alpha_only=True)["krippendorff_alpha"]
    figures = {
        group_statistic(GROUP_ALPHA, about["group"]): Figure.of(
            alpha, level=question.level, **about, n_group_raters=len(set(columns[1]))
        )
    }
    single = [row for row in rows if not row[2]]
    if question.kind not in _NO_MEAN and single:
        figures[group_statistic(GROUP_MEAN, about["group"])] = Figure(
            value=fmean(row[4] for row in single),
            n_units=len({unit_of(row) for row in single}),
            n_raters=len({row[3] for row in single}),
            n_ratings=len(single),
            detail={**about, "method": "mean of the ratings' codes"},
        )
    return figures
