"""LLM judges as their study's admins see them: the overview and a judge's consistency."""

import json
from collections import Counter, defaultdict

from annotation.models import (
    Judge,
    JudgeRating,
    JudgeVerdict,
    Question,
    Study,
)


def judge_consistency(*, judge: Judge) -> list[dict]:
    """How consistent a judge was with itself, per question.

    Position: of the pairs judged in both orders (sample by sample), the share where it
    preferred the same source, or called both a tie, once the sides are put back in canonical
    order. Samples: with more than one sample, for each item, order and response, the share of
    samples giving the most common answer, averaged (1 = always the same answer)."""
    rows = JudgeRating.objects.filter(
        verdict__judge=judge, verdict__outcome=JudgeVerdict.Outcome.OK
    ).values_list(
        "question__key",
        "question__kind",
        "verdict__item_id",
        "verdict__variant",
        "verdict__sample",
        "output_id",
        "answer",
        "value",
    )
    by_order: dict = defaultdict(dict)  # (key, item, sample) -> variant -> canonical value
    by_sample: dict = defaultdict(list)  # (key, item, variant, output) -> answers
    kinds: dict[str, str] = {}
    for key, kind, item, variant, sample, output, answer, value in rows:
        kinds[key] = kind
        if kind == Question.Kind.PAIRWISE and value is not None:
            by_order[(key, item, sample)][variant] = value
        by_sample[(key, item, variant, output)].append(
            value if kind == Question.Kind.PAIRWISE else json.dumps(answer, sort_keys=True)
        )
    summary = []
    for key in sorted(kinds):
        pairs = [v for (k, _, _), v in by_order.items() if k == key and len(v) == 2]
        same = sum((v[0] > 0) - (v[0] < 0) == (v[1] > 0) - (v[1] < 0) for v in pairs)
        groups = [a for (k, *_), a in by_sample.items() if k == key and len(a) > 1]
        shares = [Counter(a).most_common(1)[0][1] / len(a) for a in groups]
        summary.append(
            {
                "question": key,
                "position_pairs": len(pairs),
                "position_consistency": same / len(pairs) if pairs else None,
                "sampled_units": len(groups),
                "sample_consistency": sum(shares) / len(shares) if shares else None,
            }
        )
    return summary


def study_judges_overview(*, study: Study) -> list[Judge]:
    """Each judge with its progress (`n_done` of `n_units`), units whose last try failed, and
    its consistency per question."""
    from annotation.services.judges import judge_units_missing

    judges = list(study.judges.all())
    for judge in judges:
        missing = judge_units_missing(judge) if study.status != Study.Status.DRAFT else []
        judge.n_done = judge.verdicts.filter(outcome=JudgeVerdict.Outcome.OK).count()
        judge.n_units = judge.n_done + len(missing)
        judge.n_remaining = len(missing)
        failed = set(
            judge.verdicts.filter(outcome=JudgeVerdict.Outcome.FAILED).values_list(
                "item_id", "variant", "sample"
            )
        )
        judge.n_failed = sum((u.item.pk, u.variant, u.sample) in failed for u in missing)
        judge.consistency = judge_consistency(judge=judge)
    return judges
