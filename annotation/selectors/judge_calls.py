"""judge_calls.csv and the `judge-calls` API table: every unit of an LLM judge's work with its
last call's provenance, of both kinds a judge does: rating an item with the rubric (a
`JudgeVerdict`) and, in an assisted-reading study, deciding a reader's answer (a `JudgeScore`).
`kind` tells them apart."""

from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from itertools import chain

from django.db.models import QuerySet

from annotation.core import columns
from annotation.models import JudgeScore, JudgeVerdict, Study
from annotation.selectors.exports import EXPORT_CHUNK, call_row

JUDGE_CALLS_COLUMNS = columns.JUDGE_CALLS.names
RATING = "rating"  # a rubric unit: an item, in one order shown, one sample
ANSWER = "answer"  # a decision on a reader's answer (assisted reading)


def study_judge_calls_query(*, study: Study) -> QuerySet[JudgeVerdict]:
    """Every rubric unit of every judge's work, failed ones included."""
    return (
        JudgeVerdict.objects.filter(judge__study=study)
        .select_related("judge", "item")
        .order_by("judge__label", "item__token", "variant", "sample", "started_at", "pk")
    )


def study_judge_answer_calls_query(*, study: Study) -> QuerySet[JudgeScore]:
    """Every decision of every judge on the study's answers, failed calls included."""
    return (
        JudgeScore.objects.filter(judge__study=study)
        .select_related("judge", "score__rating__assignment__item")
        .order_by("judge__label", "started_at", "pk")
    )


def judge_call_rows(verdicts: Iterable[JudgeVerdict]) -> Iterator[dict]:
    """The rubric units' rows (`columns.JUDGE_CALLS`): the provenance of each unit's last
    call, with every call it took in `retry_details`."""
    for verdict in verdicts:
        yield _row(
            verdict,
            kind=RATING,
            item_token=verdict.item.token,
            shown_order=" ".join(map(str, verdict.order)),
            variant=verdict.variant,
            sample=verdict.sample,
        )


def judge_answer_call_rows(scores: Iterable[JudgeScore]) -> Iterator[dict]:
    """The answer decisions' rows: the read's item (many reads share one), no order shown,
    variant and sample 0 (an answer is judged once, in one order)."""
    for judged in scores:
        item = judged.score.rating.assignment.item
        yield _row(judged, kind=ANSWER, item_token=item.token, shown_order="", variant=0, sample=0)


def _row(call: JudgeVerdict | JudgeScore, **unit) -> dict:
    row = call_row(call, call.attempts)
    row["retries"] = max(len(call.attempts) - 1, 0)
    return {"judge": call.judge.label, **unit, **row}


def study_judge_calls(*, study: Study) -> Iterator[dict]:
    """Every judge call's row, the rubric units then the answer decisions, read in chunks."""
    units = study_judge_calls_query(study=study).iterator(chunk_size=EXPORT_CHUNK)
    answers = study_judge_answer_calls_query(study=study).iterator(chunk_size=EXPORT_CHUNK)
    return chain(judge_call_rows(units), judge_answer_call_rows(answers))


class JudgeCallPages(Sequence):
    """Both kinds of call as one sequence a paginator slices, in `study_judge_calls`' order:
    a page reads only its own rows from the database, of one kind or both."""

    def __init__(self, *, study: Study) -> None:
        self.units = study_judge_calls_query(study=study)
        self.answers = study_judge_answer_calls_query(study=study)

    @cached_property
    def _units_count(self) -> int:
        return self.units.count()

    @cached_property
    def _answers_count(self) -> int:
        return self.answers.count()

    def __len__(self) -> int:
        return self._units_count + self._answers_count

    def __getitem__(self, index):  # a slice, as a paginator asks
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        start, stop, _ = index.indices(len(self))
        split = self._units_count
        rows = list(judge_call_rows(self.units[start:stop])) if start < split else []
        if stop > split:
            answers = self.answers[max(start - split, 0) : stop - split]
            rows += judge_answer_call_rows(answers)
        return rows
