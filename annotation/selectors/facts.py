"""What a reader study can say about itself in a manuscript's methods: plain sentences, one
list per evidence key (see `checklists.definition_files.EVIDENCE_KEYS`).

These facts name the study's sources and summarise its ratings, so only the study's admins may
see them: rater-facing code never calls this module.
"""

from statistics import median

from django.db.models import Avg, Count, Q, Sum
from django.db.models.functions import Coalesce

from annotation.core import design
from annotation.core.stats.names import (
    ASYMPTOTIC,
    COEFFICIENTS,
    CORRECTION_SUMMARY,
    F_INTERVAL,
    GCI_INTERVAL,
    MRMC_TESTS,
    RATERS_AND_CASES,
)
from annotation.models import Assignment, Case, Generation, Membership, Rating, Source, Study
from annotation.selectors import reading_facts
from annotation.selectors.omissions import (
    omission_agreement_facts,
    omission_question_text,
    omission_rate_facts,
)
from annotation.selectors.results import intervals_by_question
from annotation.selectors.use_facts import oversight_facts, query_facts
from annotation.selectors.washout import washout_facts


def study_reporting_facts(*, study: Study) -> dict[str, list[str]]:
    if study.is_reading:
        return _reading_facts(study)
    return {
        "raters": _raters(study),
        "blinding": _blinding(study),
        "questions": _questions(study),
        "agreement": _agreement(study),
        "sources": _sources(study),
        "scores": _scores(study),
        "prompts": _prompts(study),
        "design": _design(study),
        "compute": _compute(study),
        "queries": query_facts(study),
        "oversight": oversight_facts(study),
    }


def _reading_facts(study: Study) -> dict[str, list[str]]:
    """An assisted-reading study's facts: readers, arms, layout, scoring and accuracy per arm
    where other studies have raters, sources shown blind, assignment and ratings per source."""
    agreement = _agreement(study)
    if agreement == [NO_AGREEMENT]:
        agreement = [
            "No inter-reader agreement is computed in an assisted-reading study: each answer "
            "is scored right or wrong against its case's accepted answers (see the scoring)."
        ]
    return {
        "raters": reading_facts.reading_raters(study),
        "blinding": reading_facts.reading_blinding(study),
        "questions": _questions(study) + reading_facts.reading_scoring(study),
        "agreement": agreement,
        "sources": reading_facts.reading_sources(study, _source_sentences(study))
        or ["No sources yet."],
        "scores": reading_facts.reading_scores(study),
        "prompts": _prompts(study),
        "design": reading_facts.reading_design(study),
        "compute": _compute(study),
        "queries": query_facts(study),
        "oversight": oversight_facts(study),
    }


def _raters(study: Study) -> list[str]:
    """Who rated, in the tense of the study's state: nothing assigned before it opens, "so far"
    while it is open, past once it is locked or archived."""
    roles = {
        row["role"]: row["n"] for row in study.memberships.values("role").annotate(n=Count("pk"))
    }
    n_raters = roles.get(Membership.Role.RATER, 0)
    n_admins = roles.get(Membership.Role.ADMIN, 0)
    admins = f"{n_admins} study admin{_s(n_admins)} ran the study and did not rate."
    k = study.raters_per_item
    if study.status == Study.Status.DRAFT:
        return [
            f"{n_raters} rater{_s(n_raters)} added so far; the study has not been opened, so no "
            f"output has been assigned yet. {admins}",
            f"Each output is to be assigned to {k} different rater{_s(k)}.",
        ]
    n_rating = (
        Rating.objects.filter(assignment__study=study)
        .values("assignment__rater")
        .distinct()
        .count()
    )
    if study.status == Study.Status.OPEN:
        rated = f"{n_rating} of them have rated so far"
    else:
        rated = f"{n_rating} of them rated before the study was locked"  # archived: locked first
    return [
        f"{n_raters} rater{_s(n_raters)} (pseudonymised as R1 to R{n_raters} in exports) were "
        f"assigned outputs and {rated}; {admins}",
        f"Each output was assigned to {k} different rater{_s(k)}.",
    ]


def _blinding(study: Study) -> list[str]:
    facts = [
        "Raters were blinded to the source of every output: the rating screen and every "
        "address a rater could reach showed neither the source's name nor its identifier.",
        "Raters saw only their own ratings, never another rater's.",
    ]
    if study.opened_at is None:
        return [*facts, "The study has not been opened, so no assignment has been made yet."]
    return [
        *facts,
        "Outputs were assigned to raters with balanced workloads (loads differing by at most "
        f"one) and each rater's order was randomised, from the stored seed {study.seed}.",
    ]


def _questions(study: Study) -> list[str]:
    return [_question(question) for question in study.questions.all()] or [
        "No questions defined yet."
    ]


def _question(question) -> str:
    """One question as a methods section states it: its prompt, how it was answered, whether
    "not applicable" was offered, and how (or whether) it was analysed."""
    answered = f"{question.get_kind_display()}{_answers(question)}"
    prompt = question.prompt.strip()
    if not prompt.endswith((".", "?", "!", ":")):
        prompt += "."
    parts = [f'Question "{question.key}": {prompt} Answered as: {answered}.']
    if not question.required:
        parts.append("Answering it was optional.")
    if question.allow_na:
        parts.append(
            'Raters could answer "not applicable"; those answers are counted in the exports and '
            "left out of the statistics."
        )
    if question.kind == "answer":
        parts.append("Analysed as right or wrong per read: accuracy per arm.")
    elif question.has_statistics:
        parts.append(f"Analysed as {question.get_level_display().lower()} data.")
    else:
        parts.append("Not analysed statistically; the answers are in the ratings export.")
    return " ".join(parts)


def _answers(question) -> str:
    """The answers a question offered, in brackets, or nothing where it has no fixed list."""
    kind = question.kind
    if question.scale and kind != "answer":
        return " (" + "; ".join(f"{p['value']} = {p['label']}" for p in question.scale) + ")"
    if kind == "number":
        low = "any" if question.minimum is None else f"{question.minimum:g}"
        high = "any" if question.maximum is None else f"{question.maximum:g}"
        return f" (from {low} to {high})"
    if kind == "yes_no":
        return " (yes; no)"
    if kind == "criteria":
        return " (each case's own criteria, met or not met, with their points)"
    if kind == "ranking":
        return " (the outputs shown side by side, ranked from 1, the best)"
    if kind == "omission":
        return omission_question_text(question)
    if kind == "answer":
        return reading_facts.reading_answer(question)
    if kind == "correction":
        return (
            " (the rater edited the output's text into what they would sign off, or accepted "
            "it unchanged; scored as word edits per word of the original)"
        )
    return ""


def _agreement(study: Study) -> list[str]:
    """Per question: the humans' alpha, the other coefficients on the same ratings, alpha with
    each LLM judge added as one more rater, and test-retest where there were hidden repeats
    and where items were re-read after a washout.
    Per-source figures are on the dashboard and in the export, not in a methods paragraph."""
    facts = []
    results = study.results.filter(source="").select_related("question")
    by_question: dict = {}
    for result in results.order_by("question__order", "judge", "statistic"):
        by_question.setdefault(result.question, []).append(result)
    for question, found in by_question.items():
        facts += _question_agreement(question, found)
    facts += omission_agreement_facts(study=study)
    return facts or [NO_AGREEMENT]


NO_AGREEMENT = "Agreement has not been computed yet."


def _question_agreement(question, results) -> list[str]:
    humans = {r.statistic: r for r in results if not r.judge}
    facts = []
    if "krippendorff_alpha" in humans:
        alpha = humans.pop("krippendorff_alpha")
        facts.append(f'Question "{question.key}": {_describe_estimate(alpha)}')
    retest = humans.pop("test_retest_alpha", None)
    others = [_brief(r) for statistic, r in sorted(humans.items()) if statistic in COEFFICIENTS]
    if others:
        facts.append(f'Question "{question.key}", the same ratings: {"; ".join(others)}.')
    for r in results:
        if r.judge and r.statistic == "krippendorff_alpha":
            facts.append(
                f'Question "{question.key}" with LLM judge "{r.judge}" as one more rater: '
                + _describe_estimate(r)
            )
    if retest:
        # The two "raters" are one rater's two occasions: only the cases are a sample.
        facts.append(
            f'Question "{question.key}": test-retest (each rater against their own hidden '
            f"repeats of an item), {_describe_estimate(retest, both=False)}"
        )
    facts += washout_facts(question.key, humans)
    return facts


def _describe_estimate(result, *, both: bool = True) -> str:
    """The coefficient, its 95% interval for these raters and, with `both`, for raters like
    these (or why there is none), each named with its method and reference, and the sizes."""
    detail = result.detail
    method = detail.get("method") or f"Krippendorff's alpha ({detail.get('level')})"
    if result.value is None:
        return f"{method} undefined: {detail.get('reason')}."
    intervals = _intervals(detail, resamples=True, both=both)
    # No computation time here: recomputing the same numbers must not make used facts stale.
    return (
        f"{method} = {result.value:.3f}; {intervals}; {result.n_units} units, "
        f"{result.n_raters} raters, {result.n_ratings} ratings."
    )


def _brief(result) -> str:
    method = result.detail.get("method", result.statistic)
    if result.value is None:
        return f"{method} undefined ({result.detail.get('reason')})"
    return f"{method} = {result.value:.3f} ({_intervals(result.detail)})"


def _intervals(detail: dict, *, resamples: bool = False, both: bool = True) -> str:
    """ "95% CI for these raters (cases random) L to H (how), for raters like these (raters and
    cases random) L to H (how)", an interval that is missing saying why."""
    questions = zip(QUESTION_LABELS, intervals_by_question(detail), strict=True)
    parts = []
    for label, interval in list(questions)[: 2 if both else 1]:
        if not interval["ci"]:
            parts.append(f"{label}: none ({interval['reason']})")
            continue
        low, high = interval["ci"]
        name = _interval_name(interval, detail)
        if resamples and interval["interval_method"] == detail.get("interval_method"):
            name += _resamples(detail)
        parts.append(f"{label} {low:.3f} to {high:.3f} ({name})")
    return "95% CI " + "; ".join(parts)


QUESTION_LABELS = (
    "for these raters (cases random)",
    "for raters like these (raters and cases random)",
)
# Each interval's method in plain words, with its reference.
INTERVAL_NAMES = {
    "BCa bootstrap over cases": "bias-corrected and accelerated (BCa) bootstrap over cases, "
    "Efron 1987",
    "percentile bootstrap over cases": "percentile bootstrap over cases",
    RATERS_AND_CASES: "raters-and-cases interval: the variance over cases plus the variance "
    "over raters by leaving out one rater at a time, added as Gwet 2008 does, with a t quantile "
    "on Satterthwaite's degrees of freedom",
    F_INTERVAL: "F-based interval of McGraw & Wong 1996",
    GCI_INTERVAL: "generalized confidence interval of Tian & Cappelleri 2004, two-way random "
    "effects",
    ASYMPTOTIC: "asymptotic, standard error of Fleiss, Cohen & Everitt 1969",
}


def _interval_name(interval: dict, detail: dict) -> str:
    method = interval["interval_method"]
    if method == F_INTERVAL:
        # The ICC's model as Shrout & Fleiss name it: "two-way random effects", say.
        model = str(detail.get("method", "")).partition(": ")[2].split(",")[0]
        return f"{INTERVAL_NAMES[method]}, {model}" if model else INTERVAL_NAMES[method]
    return INTERVAL_NAMES.get(method) or interval.get("ci_method") or method


def _resamples(detail: dict) -> str:
    text = f": {detail.get('resamples')} resamples"
    if detail.get("resamples_used") != detail.get("resamples"):
        text += f" of which {detail.get('resamples_used')} defined it"
    return f"{text}, seed {detail.get('seed')}"


def _sources(study: Study) -> list[str]:
    return list(_source_sentences(study).values()) or ["No sources yet."]


def _source_sentences(study: Study) -> dict[str, str]:
    """Each compared source's sentence by its label."""
    # Sources of quality-control cases only (training, attention checks) are not compared.
    compared = study.sources.filter(outputs__case__role=Case.Role.STUDY).distinct()
    return {
        source.label: f"{source.label} ({source.get_kind_display().lower()}){_settings(source)}"
        for source in compared.order_by("label")
    }


def _settings(source: Source) -> str:
    if source.kind == Source.Kind.HUMAN_REFERENCE:
        return "."
    if not source.can_generate:
        return ": outputs imported, not generated in evalapp."
    parts = [f"model {source.model_name}"]
    reported = sorted(
        set(source.generations.exclude(model_version="").values_list("model_version", flat=True))
    )
    if reported:
        parts.append(f"endpoint reported {', '.join(reported)}")
    parts.append("temperature " + _or_default(source.temperature))
    parts.append("top_p " + _or_default(source.top_p))
    parts.append("max tokens " + _or_default(source.max_tokens))
    parts.append("seed " + _or_default(source.seed))
    if source.stop:
        parts.append("stop sequences " + ", ".join(repr(s) for s in source.stop))
    return ": " + "; ".join(parts) + "."


def _or_default(value) -> str:
    return "endpoint default" if value is None else str(value)


def _scores(study: Study) -> list[str]:
    # Answers about one output: its own (absolute), or the one named (side by side).
    rows = Rating.objects.filter(
        assignment__study=study,
        assignment__kind=Assignment.Kind.STUDY,
        assignment__item__output_b=None,
        # Submitted answers only, as the statistics count them; and no mean of the codes
        # of categories without an order.
        assignment__submitted_at__isnull=False,
        value__isnull=False,
    ).exclude(question__level="nominal")
    rows = rows.exclude(question__kind="correction")  # said in full by `_corrections`
    if study.design in SET_DESIGNS:
        # Shown together, only answers about one named output belong to a source. Decided here,
        # not joined: a join to the study made PostgreSQL misjudge the rows and nest its loops
        # (1M ratings: 20 s, against 2 s).
        rows = rows.exclude(output__isnull=True)
    rows = (
        rows.annotate(
            source=Coalesce("output__source__label", "assignment__item__output__source__label")
        )
        .values("question__key", "source")
        .annotate(mean=Avg("value"), n=Count("pk"))
        .order_by("question__key", "source")
    )
    facts = [
        f'Question "{r["question__key"]}", {r["source"]}: '
        f"mean rating {r['mean']:.2f} over {r['n']} ratings."
        for r in rows
    ]
    facts += omission_rate_facts(study=study)
    facts += _corrections(study)
    return (facts + _paired_tests(study) + _mrmc(study)) or ["No ratings yet."]


def _corrections(study: Study) -> list[str]:
    """Per correction question and source, the stored summary of the corrections."""
    results = study.results.filter(statistic=CORRECTION_SUMMARY, judge="").select_related(
        "question"
    )
    return [_correction(r) for r in results.order_by("question__order", "source")]


def _correction(result) -> str:
    detail = result.detail
    rate, shared = detail["edit_rate"], detail["share_unchanged"]
    wilson = shared["other_intervals"][0]["ci"]
    text = f'Question "{result.question.key}", {result.source}: '
    if rate["value"] is None:
        text += "no word edit rate (no original had words). "
    else:
        text += f"word edit rate {rate['value']:.3f}{_ci_words(rate)}. "
    text += (
        f"On average {detail['mean_chars']['value']:.1f} characters and "
        f"{detail['mean_words']['value']:.1f} words edited{_ci_words(detail['mean_words'])}; "
        f"{shared['value']:.0%} of {result.n_ratings} corrections accepted the output unchanged"
        f"{_ci_words(shared)}"
    )
    if wilson:
        text += f" (Wilson 95% CI {wilson[0]:.0%} to {wilson[1]:.0%}, ratings as independent)"
    return text + "."


def _ci_words(measure: dict) -> str:
    ci = measure.get("ci")
    if not ci:
        return ""
    return (
        f" (95% CI {ci[0]:.3g} to {ci[1]:.3g}, {measure['interval_method']}; "
        f"{measure['interval_question']})"
    )


def _p(value: float) -> str:
    return "p < 0.0001" if value < 0.0001 else f"p = {value:.4f}"


def _direction(detail: dict) -> str:
    """Which way the differences run, so a p-value says who was preferred."""
    if "median_difference" in detail and detail.get("differences"):
        return f"; median difference ({detail['differences']}) {detail['median_difference']:+.3g}"
    return ""


def _paired_tests(study: Study) -> list[str]:
    """The stored paired tests between sources, with their adjustment, as the last
    computation left them."""
    results = study.results.filter(
        statistic__in=("wilcoxon", "sign_test", "mcnemar"), judge=""
    ).select_related("question")
    facts = []
    for r in results.order_by("question__order", "source", "statistic"):
        method = r.detail.get("method", r.statistic)
        if r.value is None:
            facts.append(f'Question "{r.question.key}", {r.source}: {method} undefined.')
            continue
        adjusted = r.detail.get("p_adjusted")
        note = f" ({r.detail['adjustment']}: {_p(adjusted)})" if adjusted is not None else ""
        facts.append(
            f'Question "{r.question.key}", {r.source}: {method}, {r.n_units} shared cases, '
            f"{_p(r.value)}{note}{_direction(r.detail)}."
        )
    return facts


MRMC_METHOD = (
    "Obuchowski-Rockette with Hillis (2007) degrees of freedom, jackknife covariances over "
    "cases; readers and cases random"
)


def _mrmc(study: Study) -> list[str]:
    """Each stored MRMC comparison of a pair of sources: the method, the difference (first
    minus second) for readers and cases random with its p, and for these readers (readers
    fixed); or why there is none."""
    results = study.results.filter(statistic__in=MRMC_TESTS, judge="").select_related("question")
    facts = []
    for r in results.order_by("question__order", "source", "statistic"):
        where = f'Question "{r.question.key}", {r.source}, {r.detail.get("figure_of_merit")}'
        if r.value is None:
            reason = r.detail.get("reason", "not computed")
            facts.append(f"{where}: no multi-reader multi-case comparison ({reason}).")
            continue
        lines = [_mrmc_difference(r.detail[key]) for key in ("random_both", "fixed_readers")]
        adjusted = r.detail.get("p_adjusted")
        note = f" ({r.detail['adjustment']}: {_p(adjusted)})" if adjusted is not None else ""
        facts.append(
            f"{where}: multi-reader multi-case comparison ({MRMC_METHOD}), {r.n_raters} readers "
            f"x {r.n_units} cases; difference (first minus second) for "
            f"{lines[0]}{note}; for {lines[1]}."
        )
    return facts


def _mrmc_difference(found: dict) -> str:
    question = found["interval_question"]
    if found.get("value") is None or not found.get("ci"):
        return f"{question}: none ({found.get('reason', 'no interval')})"
    low, high = found["ci"]
    return f"{question}: {found['value']:+.3f} (95% CI {low:.3f} to {high:.3f}), {_p(found['p'])}"


def _prompts(study: Study) -> list[str]:
    facts = []
    for source in study.sources.filter(kind=Source.Kind.MODEL):
        if not source.can_generate:
            continue
        if source.system_prompt:
            facts.append(f'{source.label}: system prompt "{source.system_prompt}"; ')
        else:
            facts.append(f"{source.label}: no system prompt; ")
        if source.user_template.strip() == "{{ input }}":
            facts[-1] += "the case's input text was sent unchanged as the user message"
        else:
            facts[-1] += f'user message from the template "{source.user_template}"'
        facts[-1] += ", with the case's images." if source.send_images else "."
    return facts or ["No model in this study was prompted from evalapp."]


SET_DESIGNS = [Study.Design.SIDE_BY_SIDE, Study.Design.RANKING]


def _design(study: Study) -> list[str]:
    return _layout(study) + _quality_control(study)


def _quality_control(study: Study) -> list[str]:
    roles = dict(study.cases.values("role").annotate(n=Count("pk")).values_list("role", "n"))
    parts = []
    if roles.get(Case.Role.TRAINING):
        parts.append(f"{roles[Case.Role.TRAINING]} training items with feedback, first")
    if roles.get(Case.Role.ATTENTION):
        parts.append(f"{roles[Case.Role.ATTENTION]} attention checks with expected answers")
    if study.repeats_per_rater:
        parts.append(
            f"{study.repeats_per_rater} of their own items repeated unannounced, at least "
            f"{design.MIN_REPEAT_GAP} items later, for test-retest consistency"
        )
    if study.retests_per_rater:
        days = study.washout_days
        parts.append(
            f"{study.retests_per_rater} of their own study items re-read in a second session, "
            f"which opened only once they had submitted every item of the first and {days} "
            f"day{_s(days)} had passed since their last submit in it (the washout), in a new "
            "order and unannounced as re-reads, for test-retest reliability across occasions; "
            "once the second session opened, the first readings of the re-read items closed, "
            "so that each re-read is compared with an answer the rater could no longer change"
        )
    if not parts:
        return []
    return [
        "Quality control for each rater: " + "; ".join(parts) + ". None of it enters the "
        "inter-rater statistics."
    ]


def _layout(study: Study) -> list[str]:
    counts = study.cases.filter(role=Case.Role.STUDY).aggregate(n=Count("pk"))
    n_outputs = study.items.filter(output__case__role=Case.Role.STUDY).count()
    if study.shows_sets:
        how = "rated side by side" if study.design == Study.Design.SIDE_BY_SIDE else "ranked"
        return [
            f"{counts['n']} cases; for each of {n_outputs}, all its outputs shown together and "
            f"{how}, each by {study.raters_per_item} raters, in an order randomised per rater "
            "and balanced so that each source appears in each position equally often.",
            f"Assignment seed {study.seed}; the manifest of who rated what is stored and exported.",
        ]
    if study.design == Study.Design.PAIRWISE:
        return [
            f"{counts['n']} cases; {n_outputs} pairs of outputs compared, each by "
            f"{study.raters_per_item} raters, shown as A and B in an order randomised per rater "
            "and balanced so that each source appears on each side equally often (within one).",
            f"Assignment seed {study.seed}; the manifest of who rated what is stored and exported.",
        ]
    return [
        f"{counts['n']} cases; {n_outputs} outputs rated, each by {study.raters_per_item} raters.",
        f"Assignment seed {study.seed}; the manifest of who rated what is stored and exported.",
    ]


def _compute(study: Study) -> list[str]:
    facts = []
    for source in study.sources.filter(kind=Source.Kind.MODEL):
        calls = source.generations.aggregate(
            ok=Count("pk", filter=Q(outcome=Generation.Outcome.OK)),
            failed=Count("pk", filter=Q(outcome=Generation.Outcome.FAILED)),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
        )
        if not calls["ok"] and not calls["failed"]:
            continue
        latencies = list(
            source.generations.exclude(latency_ms=None).values_list("latency_ms", flat=True)
        )
        facts.append(
            f"{source.label}: {calls['ok']} successful and {calls['failed']} failed calls; "
            f"{calls['prompt'] or 0} prompt and {calls['completion'] or 0} completion tokens; "
            f"median latency {median(latencies) / 1000 if latencies else 0:.2f} s."
        )
    return facts or ["No model calls were made from evalapp."]


def _s(n: int) -> str:
    return "" if n == 1 else "s"
