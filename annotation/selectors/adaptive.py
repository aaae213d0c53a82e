"""Adaptive extra raters as the dashboard, the statistics, the manifest and the methods text
report them: the setting, the decisions taken, and every extra assignment."""

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from annotation.core import disagreement
from annotation.core.stats.names import WITH_EXTRAS
from annotation.models import AdaptiveDecision, AdaptiveDesign, Assignment, Item, Membership, Study


@dataclass(frozen=True)
class AdaptiveCounts:
    decided: int  # items whose first k ratings were read
    triggered: int  # of which disagreed by the rule
    extras: int  # extra assignments made
    extras_done: int  # of which submitted
    shortfall: int  # extra raters wanted but not found, or lost with a removed rater
    lost: int  # of the shortfall, extras dropped when their rater was removed


def study_adaptive_design(*, study: Study) -> AdaptiveDesign | None:
    return AdaptiveDesign.objects.filter(study=study).first()


def study_adaptive_counts(*, study: Study) -> AdaptiveCounts:
    decisions = AdaptiveDecision.objects.filter(item__study=study).aggregate(
        decided=Count("pk"),
        triggered=Count("pk", filter=Q(disagreed=True)),
        wanted=Sum("wanted", default=0),
        created=Sum("created", default=0),
        lost=Sum("lost", default=0),
    )
    extras = study.assignments.filter(kind=Assignment.Kind.EXTRA).aggregate(
        made=Count("pk"), done=Count("pk", filter=Q(submitted_at__isnull=False))
    )
    return AdaptiveCounts(
        decided=decisions["decided"],
        triggered=decisions["triggered"],
        extras=extras["made"],
        extras_done=extras["done"],
        shortfall=decisions["wanted"] - decisions["created"],
        lost=decisions["lost"],
    )


def extras_pending(*, study: Study) -> QuerySet[Assignment]:
    """The extra assignments still to come in: not submitted, while the study is open, and held
    by a rater who still works (not one who stopped, their work handed on, nor one who
    withdrew). An extra given up when its rater was removed is gone, so not pending either."""
    if study.status != Study.Status.OPEN:
        return Assignment.objects.none()
    stopped = Membership.objects.filter(
        study=study, user=OuterRef("rater"), role=Membership.Role.RATER
    ).filter(Q(reassigned_at__isnull=False) | Q(withdrawn_at__isnull=False))
    return study.assignments.filter(kind=Assignment.Kind.EXTRA, submitted_at__isnull=True).exclude(
        Exists(stopped)
    )


def items_awaiting_adaptive(*, study: Study) -> QuerySet[Item]:
    """Items of an open adaptive study whose first k regular ratings are in but whose decision
    (extras or none) is not taken yet: its task is queued, or was lost and waits for a sweep."""
    adaptive = study_adaptive_design(study=study)
    if adaptive is None or study.status != Study.Status.OPEN:
        return Item.objects.none()
    done = Count(
        "assignments",
        filter=Q(assignments__kind=Assignment.Kind.STUDY, assignments__submitted_at__isnull=False),
    )
    return (
        Item.objects.filter(study=study, adaptive_decision__isnull=True)
        .annotate(done=done)
        .filter(done__gte=adaptive.first_k)
    )


def study_adaptive_pooled(*, study: Study) -> list:
    """The secondary agreement per question (every source), extras pooled in: stored Results."""
    results = study.results.filter(statistic=WITH_EXTRAS, source="", judge="")
    return list(results.select_related("question").order_by("question__order"))


def study_adaptive_extras(*, study: Study) -> list[dict]:
    """Every extra assignment, for the manifest: which item (its token), which rater (their
    pseudonym), where in their order, the rule that caused it and when, and the first k answers
    that met it."""
    pseudonyms = dict(study.memberships.filter(role="rater").values_list("user_id", "pseudonym"))
    extras = (
        study.assignments.filter(kind=Assignment.Kind.EXTRA)
        .select_related("item__adaptive_decision")
        .order_by("item_id", "rater_id")
    )
    return [
        {
            "item": a.item.token,
            "rater": pseudonyms.get(a.rater_id, ""),
            "position": a.position,
            "rule": a.item.adaptive_decision.rule,
            "rule_text": disagreement.describe(
                disagreement.rule_from_dict(a.item.adaptive_decision.rule)
            ),
            "first_answers": a.item.adaptive_decision.answers,
            "triggered_at": a.item.adaptive_decision.decided_at.replace(microsecond=0).isoformat(),
        }
        for a in extras
    ]


def study_adaptive_manifest(*, study: Study) -> dict | None:
    """The bundle manifest's record of adaptive allocation; None for a study without it."""
    adaptive = study_adaptive_design(study=study)
    if adaptive is None:
        return None
    counts = study_adaptive_counts(study=study)
    return {
        "rule": adaptive.rule,
        "rule_text": disagreement.describe(adaptive.parsed_rule),
        "first_k": adaptive.first_k,
        "extra_m": adaptive.extra_m,
        "items_decided": counts.decided,
        "items_triggered": counts.triggered,
        "extras_created": counts.extras,
        "shortfall": counts.shortfall,
        # Extras whose rater was removed before rating them, with no other eligible rater to
        # take the item: counted in the shortfall, and not in extras_created.
        "extras_lost_with_removed_raters": counts.lost,
        "extras": study_adaptive_extras(study=study),
    }


# Why the first k ratings give the primary figure: for the methods text and docs/statistics.md.
PRIMARY_WHY = (
    "Extra raters were offered only items whose first ratings disagreed, so pooling their "
    "ratings reads a panel enriched for items selected for disagreement; the direction of the "
    "bias this brings is not known (the extra ratings may agree with one another and lift the "
    "pooled figure, or not). The primary agreement figures use the regular, pre-planned "
    "ratings alone (the first k ratings of every item, and any further planned ones), which "
    "were allocated whatever the answers; agreement with the extra ratings pooled in is "
    "reported as secondary (Krippendorff's alpha) and is not comparable to the primary figure."
)


def study_adaptive_methods_text(*, study: Study) -> list[str]:
    """The methods text's paragraph on adaptive allocation, as Markdown lines; [] without it."""
    adaptive = study_adaptive_design(study=study)
    if adaptive is None:
        return []
    counts = study_adaptive_counts(study=study)
    lines = [
        "### Adaptive extra raters",
        "",
        f"Items were offered to extra raters {adaptive.describe()}, chosen by the same seeded "
        "engine as the design (the least-loaded raters who had not seen the item) and added "
        "at the end of their orders; every extra assignment is listed with its rule in the "
        f"bundle's manifest. {counts.triggered} of {counts.decided} items met the rule; "
        f"{counts.extras} extra assignments were made ({counts.extras_done} rated)"
        + _shortfall_text(counts)
        + " "
        + PRIMARY_WHY,
        "",
    ]
    for result in study_adaptive_pooled(study=study):
        if result.value is not None:
            lines += [
                f'Question "{result.question.key}": Krippendorff\'s alpha including extra '
                "ratings of items selected for disagreement (secondary; the direction of the "
                f"bias is not known) = {result.value:.3f} over {result.n_units} units.",
                "",
            ]
    return lines


def _shortfall_text(counts: AdaptiveCounts) -> str:
    if not counts.shortfall:
        return "."
    lost = counts.lost
    found = counts.shortfall - lost
    parts = [f"{found} short for want of eligible raters"] if found else []
    if lost:
        parts.append(f"{lost} dropped when their rater was removed and no other could take them")
    return ", " + "; ".join(parts) + "."
