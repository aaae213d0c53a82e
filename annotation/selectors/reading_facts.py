"""What an assisted-reading study can say about itself in a manuscript's methods (the methods
text and the checklists' evidence, `facts.study_reporting_facts`): its readers, arms, layout,
answer and scoring, and the stored statistics with the question each interval answers.

Like the other facts these name arms and sources, so only the study's admins see them."""

from django.db.models import Count

from annotation.core.reading import allocation
from annotation.core.stats.names import FIXED_CASES, FIXED_READERS, RANDOM_BOTH
from annotation.models import AnswerScore, Arm, Membership, Question, Result, Study, StudyFigures
from annotation.selectors.reading import (
    ACCURACY,
    CHANGES,
    JUDGE_MATCH,
    JUDGE_SCORER,
    MCNEMAR,
    MRMC,
    TIME,
    TOP_J,
)
from annotation.selectors.reading_exports import MRMC_METHOD, beyond_note

ANSWER_KINDS = {
    "choice": "one choice from a list",
    "number": "a number",
    "text": "free text",
    "ranked": "a ranked list",
}
NORMALISATION = (
    "after normalisation (Unicode NFKC, case folded, apostrophes removed, every other "
    "punctuation mark a word break, whitespace collapsed; no abbreviation expanded, so a "
    "wording counts only if the import lists it)"
)
RATES = {
    "helped": "helped (wrong unassisted, right assisted) in {count} of {of} pairs",
    "harmed": "harmed (right unassisted, wrong assisted) in {count} of {of} pairs",
}


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _cases(study: Study) -> int:
    return study.cases.count()


def _readers(study: Study) -> int:
    return study.memberships.filter(role=Membership.Role.RATER).count()


def reading_raters(study: Study) -> list[str]:
    """Who read, and how many reads: every reader reads every case in every arm's turn."""
    n, admins = _readers(study), study.memberships.filter(role=Membership.Role.ADMIN).count()
    lead = (
        f"{n} reader{_s(n)} (pseudonymised as R1 to R{n} in exports); {admins} study "
        f"admin{_s(admins)} ran the study and did not read."
    )
    if study.opened_at is None:
        return [lead, "The study has not been opened, so no read has been allocated yet."]
    reads = study.assignments.filter(arm__isnull=False)
    total, submitted = reads.count(), reads.filter(submitted_at__isnull=False).count()
    return [
        lead,
        f"{total} reads were allocated ({_per_reader(study)}); {submitted} were submitted"
        f"{' so far' if study.status == Study.Status.OPEN else ''}.",
        _scorers_worked(study),
    ]


def _submitted_scores(study: Study):
    return AnswerScore.objects.filter(
        rating__assignment__study=study,
        rating__assignment__arm__isnull=False,
        rating__assignment__submitted_at__isnull=False,
        rating__question__kind=Question.Kind.ANSWER,
    )


def _scorer_decisions(study: Study):
    """The submitted answers a clinician scorer decided (an undecided answer is stored with
    `by` "match": nobody decided it)."""
    return (
        _submitted_scores(study)
        .filter(by=AnswerScore.By.SCORER)
        .exclude(outcome=AnswerScore.Outcome.UNDECIDED)
    )


def _scorers_worked(study: Study) -> str:
    """Who scored: the scorers who decided answers, only if any did."""
    decisions = _scorer_decisions(study)
    if decisions.exists():
        n = decisions.filter(scorer__isnull=False).values("scorer").distinct().count()
        who = f"{n} clinician scorer{_s(n)}" if n else "A clinician scorer"
        return f"{who}, neither readers nor admins, decided the answers an exact match could not."
    scorers = study.scorers.count()
    if scorers:
        return (
            f"{scorers} clinician scorer{_s(scorers)}, neither readers nor admins, "
            f"{'has' if scorers == 1 else 'have'} been added but none has decided an answer "
            "yet: answers an exact match cannot decide are waiting for a scorer."
        )
    return (
        "No clinician scorer has been added: answers an exact match cannot decide are waiting "
        "for a scorer."
    )


def _per_reader(study: Study) -> str:
    cases, arms = _cases(study), study.arms.count()
    if study.reading_layout == Study.ReadingLayout.SEQUENTIAL:
        return f"each reader read each of {cases} cases twice, unassisted and then assisted"
    return f"each reader read each of {cases} cases once in each of {arms} arms"


def reading_blinding(study: Study) -> list[str]:
    """What each arm showed and hid, and who saw whose answers."""
    facts = [_arm_shows(arm) for arm in study.arms.select_related("source").order_by("pk")]
    if study.reading_layout == Study.ReadingLayout.SEQUENTIAL:
        facts.append(
            "Nothing of the assistance was on the screen until the reader's unassisted answer "
            "to the case was locked."
        )
    facts += [
        "Readers saw only their own answers, never another reader's; in an assisted read they "
        "saw their own locked answer, never an earlier answer in another arm."
        if study.reading_layout == Study.ReadingLayout.SEQUENTIAL
        else "Readers saw only their own answers: no read showed an answer given in another "
        "arm or session.",
        "The scorers saw each undecided answer with its case and the case's accepted answers "
        "only: not the reader, the arm, the session or the phase, in an order of their own "
        "seeded by the study.",
    ]
    return facts


def _arm_shows(arm: Arm) -> str:
    if arm.kind == Arm.Kind.UNASSISTED:
        return (
            f'Arm "{arm.key}": the case alone; nothing of any model was on the screen or in '
            "any address the reader could reach."
        )
    if arm.kind == Arm.Kind.TOOL:
        return (
            f'Arm "{arm.key}" (a tool): readers were told "{arm.description}" beside the case; '
            "no model output was shown."
        )
    if arm.named:
        return (
            f'Arm "{arm.key}": {arm.source.label}\'s output beside the case, under its name '
            f'"{arm.source.label}" (the arm was named, so readers knew the source).'
        )
    return (
        f'Arm "{arm.key}": {arm.source.label}\'s output beside the case, under the neutral '
        'label "Assistant"; readers were not told which source wrote it.'
    )


def reading_sources(study: Study, described: dict[str, str]) -> list[str]:
    """Each source with the arms that showed its output (`described`: label -> the sentence
    the other studies' facts give it), or that none did."""
    shown: dict[str, list[str]] = {}
    for key, label in study.arms.filter(source__isnull=False).values_list("key", "source__label"):
        shown.setdefault(label, []).append(f'"{key}"')
    facts = []
    for label, text in described.items():
        arms = shown.get(label)
        where = (
            f"Its output was shown beside the case in arm{_s(len(arms))} {', '.join(arms)}."
            if arms
            else "Its outputs were imported with the cases and shown in no arm."
        )
        facts.append(f"{text} {where}")
    return facts


def reading_design(study: Study) -> list[str]:
    """The layout, the allocation and its seed, and the washout between sessions."""
    cases, arms = _cases(study), list(study.arms.values_list("key", flat=True))
    assisting = [key for key in arms if key != allocation.UNASSISTED]
    # Before the study opens, nothing has been read or allocated: say what will happen.
    planned = study.opened_at is None
    if study.reading_layout == Study.ReadingLayout.SEQUENTIAL:
        facts = [
            f"Sequential layout, {cases} cases: each reader is to read each case first "
            "unassisted and submit an answer, which then locks and can no longer change; the "
            "same case follows at once with assistance, the assisted read starting from the "
            "locked answer, which the reader keeps or changes. Both answers are kept."
            if planned
            else f"Sequential layout, {cases} cases: each reader read each case first "
            "unassisted and submitted an answer, which then locked and could no longer change; "
            "the same case followed at once with assistance, the assisted read starting from "
            "the locked answer, which the reader kept or changed. Both answers are kept."
        ]
        if len(assisting) > 1:
            facts.append(
                f"Which of the {len(assisting)} assisting arms ({', '.join(assisting)}) "
                f"assists a reader's case {'is to be' if planned else 'was'} allocated "
                "cyclically from seeded places of readers and cases, balanced within one per "
                "reader and per case."
            )
        order = "Each reader's case order was randomised"
    else:
        days = study.washout_days
        facts = [
            f"Crossover layout, {cases} cases, {len(arms)} arms ({', '.join(arms)}): each "
            f"reader {'is to read' if planned else 'read'} each case once in every arm, one "
            f"arm per session ({len(arms)} sessions). The arms a reader "
            f"{'meets' if planned else 'met'} on a case, session by session, "
            f"{'follow' if planned else 'followed'} a row of a Williams design (each arm in "
            "each session equally often; with an even number of arms each following every "
            "other equally often, with an odd number the square and its mirror image "
            "together), rows given to reader-case pairs cyclically from seeded places of "
            "readers and cases.",
            f"A reader's next session opened only once they had submitted every read of the "
            f"one before and {days} day{_s(days)} had passed since their last submit in it "
            "(the washout). An answer locked when submitted, and once a reader finished a "
            "session its reads closed: during the washout and in later sessions the reader "
            "could neither see them (nor the assistance shown with them) nor change them.",
        ]
        order = "Each reader's case order within each session was randomised"
    if planned:
        order = order.replace(" was randomised", " is to be randomised")
    facts.append(
        f"{order} from the stored seed {study.seed}; the allocation's SHA-256 digest, over "
        f"layout, seed, arms and every read, is {study.manifest_hash or 'not made yet'}."
    )
    return facts


def reading_answer(question: Question) -> str:
    """The answer question's kind and, for ranked lists, k, as `facts._answers` words it."""
    kind = ANSWER_KINDS.get(question.answer_kind, question.answer_kind)
    if question.answer_kind == "ranked":
        kind += f" of up to {question.k} entries, most likely first"
    if question.scale:
        kind += ": " + "; ".join(f"{p['value']} = {p['label']}" for p in question.scale)
    return f" ({kind}; scored right or wrong against the case's accepted answers)"


def reading_scoring(study: Study) -> list[str]:
    """How answers were scored, and how many the scorers decided or still must."""
    question = study.questions.filter(kind=Question.Kind.ANSWER).first()
    if question is None:
        return []
    rules = {
        "choice": "a choice is right when it is one of the case's accepted choices",
        "number": "a number is right within the case's tolerance of its expected value (inclusive)",
        "text": f"text is right when it equals an accepted answer or a synonym {NORMALISATION}; "
        "text matching none is undecided, for a scorer",
        "ranked": f"a ranked list is right when any entry equals an accepted answer or a "
        f"synonym {NORMALISATION}, its rank that of the first such entry; a list matching "
        "none is undecided, for a scorer; an empty list is wrong",
    }
    # Submitted answers only (a draft's score is not the reader's answer yet), decided ones
    # by who decided them: an undecided answer is stored as the match's but nobody decided it.
    submitted = _submitted_scores(study).filter(rating__question=question)
    decided = dict(
        submitted.exclude(outcome=AnswerScore.Outcome.UNDECIDED)
        .values("by")
        .annotate(n=Count("pk"))
        .values_list("by", "n")
    )
    undecided = submitted.filter(outcome=AnswerScore.Outcome.UNDECIDED).count()
    by_scorer, by_match = (
        decided.get(AnswerScore.By.SCORER, 0),
        decided.get(AnswerScore.By.MATCH, 0),
    )
    who = (
        "A clinician scorer, blinded to reader and arm, decided the answers an exact match "
        "could not (a ranked list's rank of its first right entry, or none); a scorer's "
        "decision overrides the match, and is made again if the answer changes. "
        if by_scorer
        else "Answers an exact match cannot decide go to a clinician scorer, blinded to reader "
        "and arm (who gives a ranked list's rank of its first right entry, or none); no scorer "
        "has decided one yet. "
    )
    return [
        "Each answer was scored against its case's accepted answers and their synonyms, "
        f"imported with the cases, by exact match: {rules[question.answer_kind]}.",
        who + f"Of the submitted answers, {by_scorer} {'was' if by_scorer == 1 else 'were'} "
        f"decided by a scorer and {by_match} by exact match; "
        + (
            f"{undecided} submitted answer{_s(undecided)} still undecided "
            f"{'is' if undecided == 1 else 'are'} waiting for a scorer and left out of the "
            "statistics (counted as pending)."
            if undecided
            else "no submitted answer is waiting for a scorer."
        ),
    ]


def reading_scores(study: Study) -> list[str]:
    """The stored statistics: accuracy per arm, the MRMC difference, McNemar, helped and
    harmed, time; each interval with the question it answers."""
    results = {
        (r.statistic, r.source): r
        for r in Result.objects.filter(
            study=study, judge="", statistic__in=(ACCURACY, MCNEMAR, CHANGES, MRMC, TIME, TOP_J)
        )
    }
    judged = list(
        Result.objects.filter(study=study, statistic__in=(JUDGE_SCORER, JUDGE_MATCH)).order_by(
            "judge", "-statistic"
        )
    )
    if not any(statistic == ACCURACY for statistic, _ in results):
        return [_not_yet(study)] + [_judge(r) for r in judged]
    mrmc = next((r for (statistic, _), r in results.items() if statistic == MRMC), None)
    facts = [_accuracy(results, mrmc)]
    if mrmc is not None:
        facts.append(_mrmc(mrmc))
    for (statistic, arm), result in sorted(results.items()):
        if statistic == MCNEMAR:
            facts.append(_mcnemar(arm, result, results.get((CHANGES, arm))))
    times = [_time(arm, r) for (statistic, arm), r in sorted(results.items()) if statistic == TIME]
    if times:
        facts.append(
            "Seconds on screen per read (median, quartiles by linear interpolation): "
            + "; ".join(times)
            + "."
        )
    tops = [(arm, r) for (statistic, arm), r in _unassisted_first(results) if statistic == TOP_J]
    if tops:
        facts.append(_tops(tops))
    facts += [_judge(r) for r in judged]
    return facts


def _not_yet(study: Study) -> str:
    """No accuracy stored: never computed, or computed with nothing scored yet."""
    if not StudyFigures.objects.filter(study=study).exists():
        return "The assisted-reading statistics have not been computed yet."
    pending = _submitted_scores(study).filter(outcome=AnswerScore.Outcome.UNDECIDED).count()
    if pending:
        return (
            "The assisted-reading statistics have been computed, but no submitted answer has "
            f"been scored right or wrong yet: {pending} submitted answer{_s(pending)} "
            f"{'is' if pending == 1 else 'are'} waiting for a scorer (pending)."
        )
    return (
        "The assisted-reading statistics have been computed, but no read has been submitted "
        "yet: there is nothing to report."
    )


def _unassisted_first(results: dict) -> list:
    return sorted(results.items(), key=lambda kv: (kv[0][1] != allocation.UNASSISTED, kv[0]))


def _tops(tops: list[tuple[str, Result]]) -> str:
    parts = []
    for arm, result in tops:
        each = []
        for top in result.detail.get("tops", []):
            text = f"top-{top['top']} " + (
                "none decided"
                if top["accuracy"] is None
                else f"{top['accuracy']:.3f} ({top['right']} of {top['reads']})"
            )
            if top["pending"] and top["accuracy"] is not None:
                text = text[:-1] + f"; {top['pending']} pending)"
            elif top["pending"]:
                text += f" ({top['pending']} pending)"
            each.append(text)
        parts.append(f"{arm}: " + ", ".join(each))
    return (
        "Top-j accuracy of the ranked lists (share of reads with a right entry among the "
        "first j), per arm: "
        + "; ".join(parts)
        + ". A list exact match found right at rank r counts as pending for j below r (an "
        "earlier entry may be an unlisted wording of the answer) until a scorer decides it."
    )


REFERENCE_WORDS = {
    JUDGE_SCORER: "the clinician scorer, on the answers exact match left undecided that both "
    "decided",
    JUDGE_MATCH: "the exact match, on the matched answers given to the judge as a sample",
}


def _judge(result: Result) -> str:
    """An LLM judge's agreement with a reference: the 2 x 2 table, agreement, kappa with each
    interval and its question, sensitivity and specificity."""
    d = result.detail
    n = d["both_right"] + d["reference_only_right"] + d["judge_only_right"] + d["both_wrong"]
    kappa = d["kappa"]
    intervals = [
        (kappa.get("ci"), kappa.get("interval_method"), kappa.get("interval_question")),
        *(
            (i.get("ci"), i.get("interval_method"), i.get("interval_question"))
            for i in kappa.get("other_intervals", [])
        ),
    ]
    described = "; ".join(
        f"95% CI {ci[0]:.3f} to {ci[1]:.3f} ({method}) for {question}"
        for ci, method, question in intervals
        if ci
    )
    value = kappa.get("value")
    text = (
        f'LLM judge "{result.judge}" against {REFERENCE_WORDS[result.statistic]} ({n} '
        f"answer{_s(n)}): both right {d['both_right']}, only the reference right "
        f"{d['reference_only_right']}, only the judge right {d['judge_only_right']}, both "
        f"wrong {d['both_wrong']}; agreement {_share(d['agreement'])}; Cohen's kappa "
        + ("undefined" if value is None else f"{value:.3f}")
        + (f" ({described})" if described else "")
        + f"; sensitivity {_share(d['sensitivity'])}, specificity {_share(d['specificity'])}, "
        "with the reference as the truth."
    )
    if d["only_one_scored"]:
        only = d["only_one_scored"]
        verb = "is" if only == 1 else "are"
        text += f" {only} answer{_s(only)} scored by only one of the two {verb} left out."
    return text + " The judge's decisions are not used in the accuracy above."


def _share(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


def _alone(mrmc: Result | None) -> dict[str, dict]:
    for analysis in mrmc.detail.get("analyses", []) if mrmc else []:
        if analysis["question"] == RANDOM_BOTH:
            return {alone["modality"]: alone for alone in analysis["modalities"]}
    return {}


def _accuracy(results: dict, mrmc: Result | None) -> str:
    alone, parts, beyond, all_pending = _alone(mrmc), [], "", 0
    for (statistic, arm), r in _unassisted_first(results):
        if statistic != ACCURACY:
            continue
        text = f"{arm} {r.value:.3f} ({r.detail.get('right', 0)} of {r.n_ratings} reads right"
        pending = r.detail.get("pending", 0)
        all_pending += pending
        if pending:
            text += f"; {pending} pending"
        ci = alone.get(arm, {}).get("ci")
        if ci:
            text += f"; 95% CI {ci[0]:.3f} to {ci[1]:.3f} for {RANDOM_BOTH}"
            beyond = beyond or beyond_note(*ci, (0, 1), None)
        parts.append(text + ")")
    if alone:
        note = " The intervals are each arm's alone in the multi-reader multi-case analysis."
        if beyond:
            note += _beyond_text("0", "1", mrmc)
    elif all_pending:
        note = (
            f" No interval is given yet: {all_pending} submitted answer{_s(all_pending)} "
            f"{'is' if all_pending == 1 else 'are'} still undecided, and the multi-reader "
            "multi-case analysis, which gives the intervals, needs every reader's read of "
            "every case scored in both arms."
        )
    else:
        note = (
            " No interval is given: it comes from the multi-reader multi-case analysis, "
            "which needs one assisting arm and every reader reading every case in both arms."
        )
    return (
        "Accuracy (share of submitted reads scored right) per arm: "
        + "; ".join(parts)
        + "."
        + (note)
    )


def _beyond_text(low: str, high: str, mrmc: Result | None) -> str:
    readers = mrmc.n_raters if mrmc else 0
    return (
        f" An interval reaching below {low} or above {high} is as the multi-reader multi-case "
        f"analysis computed it (a normal-theory interval, here with {readers} "
        f"reader{_s(readers)}, too few for it to stay within {low} to {high}); it is reported "
        "as computed, not clipped."
    )


def _mrmc(result: Result) -> str:
    by_question = {a["question"]: a for a in result.detail.get("analyses", [])}
    parts, beyond = [], ""
    for question in (RANDOM_BOTH, FIXED_READERS, FIXED_CASES):
        analysis = by_question.get(question)
        found = analysis["differences"][0] if analysis and analysis["differences"] else None
        if found is None or not found.get("ci"):
            reason = analysis.get("reason") if analysis else "not computed"
            parts.append(f"for {question}: none ({reason or 'no interval'})")
            continue
        low, high = -found["ci"][1], -found["ci"][0]
        if (extends := beyond_note(low, high, (-1, 1), result.n_raters)) and not beyond:
            beyond = extends
        parts.append(
            f"for {question}: 95% CI {low:+.3f} to {high:+.3f}, {_p(found['p'])}"
            if found.get("p") is not None
            else f"for {question}: 95% CI {low:+.3f} to {high:+.3f}"
        )
    first = by_question.get(RANDOM_BOTH, {}).get("differences") or [{}]
    estimate = first[0].get("estimate")
    gain = "undefined" if estimate is None else f"{-estimate:+.3f}"
    arm = result.source.split(" vs ", 1)[-1]
    return (
        f"Accuracy with assistance ({arm}) minus without, multi-reader multi-case analysis "
        f"({MRMC_METHOD}; {result.n_raters} readers x {result.n_units} cases): {gain}; "
        + "; ".join(parts)
        + ". The first, readers and cases random, answers the question about clinicians in "
        "general and is the primary test." + (_beyond_text("-1", "1", result) if beyond else "")
    )


def _mcnemar(arm: str, test: Result, changes: Result | None) -> str:
    d = test.detail
    text = (
        f'Arm "{arm}" against unassisted, {d["n_pairs"]} paired reads (the same reader and '
        f"case): helped {d['helped']}, harmed {d['harmed']}, both right {d['both_right']}, "
        f"both wrong {d['both_wrong']}. "
    )
    if d.get("exact_p") is None:
        return text + f"McNemar's test undefined ({d.get('reason', 'no discordant pairs')})."
    text += (
        f"McNemar's test, exact (two-sided binomial on the discordant pairs) "
        f"{_p(d['exact_p'])}; with Edwards' continuity correction {_p(d['chi2_p'])}"
    )
    ci = d.get("odds_ratio_ci") or {}
    if d.get("odds_ratio") is not None:
        high = "unbounded" if ci.get("high") is None else f"{ci['high']:.2f}"
        text += (
            f"; matched-pairs odds ratio (helped over harmed) {d['odds_ratio']:.2f}, exact "
            f"95% CI {ci['low']:.2f} to {high} for {ci['question']}"
        )
    text += ". McNemar treats the pairs as independent; a reader's reads are not, which the "
    text += "multi-reader multi-case analysis takes into account."
    if changes is not None:
        text += " " + _rates(changes)
    return text


def _rates(changes: Result) -> str:
    parts = []
    for rate in changes.detail["rates"]:
        if rate["name"] not in RATES or rate["value"] is None:
            continue
        intervals = "; ".join(
            f"{i['low']:.3f} to {i['high']:.3f} for {i['question']}"
            for i in rate["intervals"]
            if i["low"] is not None
        )
        parts.append(
            RATES[rate["name"]].format(**rate)
            + f" ({rate['value']:.3f}; 95% CI, percentile bootstrap, {intervals})"
        )
    return "Assistance " + "; ".join(parts) + "." if parts else ""


def _time(arm: str, result: Result) -> str:
    d = result.detail
    if d.get("median") is None:
        return f"{arm}: no time recorded ({d.get('reads', 0)} reads)"
    return (
        f"{arm} {d['median']:.1f} s (IQR {d['q1']:.1f} to {d['q3']:.1f} s, {d['timed']} of "
        f"{d['reads']} reads timed)"
    )


def _p(value: float) -> str:
    return "p < 0.0001" if value < 0.0001 else f"p = {value:.4f}"
