"""Comparing a study's sources: per-source summaries, paired tests adjusted across the study,
pairwise preferences with Bradley-Terry, and the Van Veen et al. (2024) reproduction."""

import json
import random
from collections import defaultdict

import numpy as np
import pytest
from django.urls import reverse
from scipy import stats

from annotation import services
from annotation.core.stats.estimate import THESE_RATERS
from annotation.models import Assignment, Item, Output, Result, TaskRun
from annotation.selectors.facts import study_reporting_facts
from tests.factories import submit_rated
from tests.support.vanveen import vanveen_rows
from tests.test_pairwise import make_pairwise_study

pytestmark = pytest.mark.django_db

MODEL, HUMAN = "MedSumm-7B", "Expert-written summary"
QUESTIONS = ("completeness", "correctness", "conciseness")


def compute(study) -> None:
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))


def result(study, statistic, source, question=None):
    found = Result.objects.filter(study=study, statistic=statistic, source=source, judge="")
    return found.get(question__key=question) if question else found.get()


def test_each_source_is_summarised_and_the_pair_tested_on_shared_cases(
    open_study, client, study_admin
):
    question = open_study.questions.get()
    given = {MODEL: [5, 4, 4, 5, 3, 4], HUMAN: [2, 3, 2, 1, 2, 3]}
    per_case = defaultdict(list)  # (source, case) -> ratings
    for assignment in open_study.assignments.select_related(
        "item__output__source", "item__output__case"
    ):
        output = assignment.item.output
        value = given[output.source.label].pop()
        services.rating_save(assignment=assignment, question=question, answer=value)
        per_case[(output.source.label, output.case.external_id)].append(value)
    submit_rated(open_study)
    compute(open_study)
    for source in (MODEL, HUMAN):
        summary = result(open_study, "score_summary", source)
        ratings = [v for (s, _), values in per_case.items() if s == source for v in values]
        assert summary.value == pytest.approx(np.mean(ratings))
        assert summary.detail["median"]["value"] == pytest.approx(np.median(ratings))
        low, high = summary.detail["mean"]["ci"]
        assert low <= summary.value <= high
        # The cases are resampled, the raters kept: the interval says it is about these raters.
        assert summary.detail["mean"]["interval_question"] == THESE_RATERS
        assert summary.detail["mean"]["interval_method"] == "percentile bootstrap over cases"
        shares = {d["category"]: d["count"] for d in summary.detail["distribution"]}
        assert list(shares) == [1, 2, 3, 4, 5]  # every declared point, unused ones too
        assert sum(shares.values()) == 6
    # Expert minus model per case (label order), each case its raters' mean.
    differences = [
        np.mean(per_case[(HUMAN, case)]) - np.mean(per_case[(MODEL, case)])
        for case in ("c1", "c2", "c3")
    ]
    wilcoxon = result(open_study, "wilcoxon", f"{HUMAN} vs {MODEL}")
    expected = stats.wilcoxon(differences, zero_method="wilcox")
    assert wilcoxon.value == pytest.approx(expected.pvalue)
    sign = result(open_study, "sign_test", f"{HUMAN} vs {MODEL}")
    assert sign.value == pytest.approx(stats.binomtest(0, 3).pvalue)
    # One Wilcoxon test in the study: Holm leaves its p as it is, and says so.
    assert wilcoxon.detail["p_adjusted"] == pytest.approx(wilcoxon.value)
    assert wilcoxon.detail["adjustment"].startswith("Holm (1979)")

    facts = study_reporting_facts(study=open_study)["scores"]
    assert (
        f'Question "overall", {HUMAN} vs {MODEL}: {wilcoxon.detail["method"]}, 3 shared cases, '
        f"p = {wilcoxon.value:.4f} (Holm (1979) step-down adjustment across the study's 1 "
        f"Wilcoxon signed-rank tests: p = {wilcoxon.value:.4f}); median difference (first "
        f"minus second) {wilcoxon.detail['median_difference']:+.3g}."
    ) in facts

    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[open_study.token])).content.decode()
    shown = page.split('id="comparisons"')[1]
    model = result(open_study, "score_summary", MODEL)
    assert f"{model.value:.3f}" in shown
    assert "Wilcoxon signed-rank p" in shown
    assert f"{wilcoxon.value:.4f}" in shown
    counts = {d["category"]: d["count"] for d in model.detail["distribution"]}
    assert f"Excellent: {counts[5]}" in shown  # the distribution plot, labelled for screen readers


def test_pairwise_preferences_give_shares_and_bradley_terry_strengths(study_admin, raters):
    study = make_pairwise_study(study_admin, raters)
    question = study.questions.get()
    rank = {"Expert": 0, "Model-A": 1, "Model-B": 2}  # the expert's summaries best
    rng = random.Random(2)
    for assignment in Assignment.objects.filter(study=study).select_related(
        "item__output__source", "item__output_b__source"
    ):
        first, second = assignment.item.output.source.label, assignment.item.output_b.source.label
        canonical = 1 if rank[first] < rank[second] else -1
        if rng.random() < 0.2:
            canonical = 0
        shown = -canonical if assignment.flipped else canonical
        services.rating_save(assignment=assignment, question=question, answer=shown)
    submit_rated(study)
    compute(study)
    shares = result(study, "win_tie_loss", "Expert vs Model-A")
    assert shares.detail["losses"] == 0
    assert shares.detail["wins"] + shares.detail["ties"] == shares.n_ratings == 8
    strengths = {
        r.source: r.value for r in Result.objects.filter(study=study, statistic="bradley_terry")
    }
    assert strengths["Expert"] > strengths["Model-A"] > strengths["Model-B"]
    assert sum(strengths.values()) == pytest.approx(0, abs=1e-9)  # centred
    # Three pairs, each with a Wilcoxon test: Holm across the three.
    tests = Result.objects.filter(study=study, statistic="wilcoxon")
    p = sorted(r.value for r in tests)
    holm = sorted(r.detail["p_adjusted"] for r in tests)
    assert holm[0] == pytest.approx(min(1, 3 * p[0]))
    assert all(
        "across the study's 3 Wilcoxon signed-rank tests" in r.detail["adjustment"] for r in tests
    )


def test_the_van_veen_patient_question_study_is_reproduced(imported):
    """Model minus expert per question from the published file, recomputed independently: the
    mean over all answers, the Wilcoxon signed-rank test over questions' mean answers, and the
    readers' agreement."""
    compute(imported)
    by_question = defaultdict(lambda: defaultdict(list))  # question -> sample -> model minus expert
    for row in vanveen_rows():
        sign = 1 if row["shown_as_A"] == "model" else -1
        by_question[row["question"]][row["sample"]].append(int(row["score_as_shown"]) * sign)
    for question in QUESTIONS:
        samples = by_question[question]
        answers = [v for values in samples.values() for v in values]
        # Canonical order is by label, expert before model: positive prefers the expert.
        summary = result(imported, "score_summary", "expert vs model", question)
        assert -summary.value == pytest.approx(np.mean(answers))
        assert summary.n_ratings == len(answers)
        case_means = [-np.mean(values) for values in samples.values()]
        expected = stats.wilcoxon(case_means, zero_method="wilcox", method="approx")
        wilcoxon = result(imported, "wilcoxon", "expert vs model", question)
        assert wilcoxon.value == pytest.approx(expected.pvalue, rel=1e-9)
        assert wilcoxon.n_units == 100
    figures = {q: -result(imported, "score_summary", "expert vs model", q).value for q in QUESTIONS}
    # What the paper found for patient questions: the model's summaries preferred overall.
    assert figures["completeness"] > 0
    assert Item.objects.filter(study=imported).count() == 100


def test_imported_metrics_are_correlated_with_the_raters_scores(draft_study):
    rouge = {("c1", MODEL): 0.61, ("c2", MODEL): 0.42, ("c3", MODEL): 0.55}
    rouge.update({("c1", HUMAN): 0.20, ("c2", HUMAN): 0.35, ("c3", HUMAN): 0.12})
    rows = ["case_id,input,source,output,source_kind,metrics"]
    for output in Output.objects.filter(case__study=draft_study).select_related("case", "source"):
        key = (output.case.external_id, output.source.label)
        metrics = json.dumps({"rougeL": rouge[key]}).replace('"', '""')
        rows.append(
            f'{key[0]},"{output.case.input_text}",{key[1]},"{output.text}",{output.source.kind},"{metrics}"'
        )
    content = ("\n".join(rows) + "\n").encode()
    services.study_import_file(study=draft_study, filename="metrics.csv", content=content)
    services.study_open(study=draft_study)
    question = draft_study.questions.get()
    rng = random.Random(9)
    scores = defaultdict(list)
    for assignment in draft_study.assignments.select_related(
        "item__output__source", "item__output__case"
    ):
        output = assignment.item.output
        value = rng.randint(1, 5)
        services.rating_save(assignment=assignment, question=question, answer=value)
        scores[(output.case.external_id, output.source.label)].append(value)
    submit_rated(draft_study)
    compute(draft_study)
    stored = result(draft_study, "correlation:rougeL", "")
    keys = sorted(rouge)
    metric = [rouge[k] for k in keys]
    mean = [np.mean(scores[k]) for k in keys]
    assert stored.value == pytest.approx(stats.spearmanr(metric, mean).statistic)
    assert stored.detail["kendall"]["value"] == pytest.approx(
        stats.kendalltau(metric, mean).statistic
    )
    assert stored.n_ratings == 6  # outputs
    assert stored.detail["ci"] is not None


def test_answers_about_a_whole_pair_or_set_are_credited_to_no_one_source(study_admin, raters):
    """A yes/no question asked once per pair, a Likert one once per ranked set: agreement
    takes them per item, and no source's summary or test counts them."""
    from annotation.core import rubric

    clear = rubric.QuestionDraft(key="clear", prompt="Both clear?", kind="yes_no", level="nominal")
    overall = rubric.QuestionDraft(
        key="overall", prompt="Set quality?", kind="likert", level="ordinal",
        scale=({"value": 1, "label": "Low"}, {"value": 2, "label": "High"}),
    )  # fmt: skip
    rows = ["case_id,input,source,output"] + [
        f"c{case},Q{case},{source},Text {case} {source}"
        for case in range(4)
        for source in ("Expert", "Model-A", "Model-B")
    ]
    studies = []
    for design, draft in (("pairwise", clear), ("ranking", overall)):
        study = services.study_create(
            creator=study_admin, title=design, question_prompt="Q?", design=design, seed=3
        )
        services.question_add(study=study, draft=draft)
        services.study_import_file(study=study, filename="s.csv", content="\n".join(rows).encode())
        services.study_add_raters(study=study, users=raters)
        services.study_open(study=study)
        studies.append(study)
    pairs, ranked = studies
    for study, key, answers in ((pairs, "clear", ["yes", "no"]), (ranked, "overall", [1, 2])):
        question = study.questions.get(key=key)
        for n, assignment in enumerate(study.assignments.order_by("pk")):
            services.rating_save(assignment=assignment, question=question, answer=answers[n % 2])
        submit_rated(study)
        compute(study)  # one rater's answers on two pairs of one case are no "rating twice"
        mine = Result.objects.filter(study=study, question=question)
        assert not mine.filter(statistic__in=["score_summary", "wilcoxon", "mcnemar"]).exists()
        alpha = mine.get(statistic="krippendorff_alpha", source="", judge="")
        assert alpha.n_units == study.items.count()  # one unit per pair or set
        assert not mine.exclude(source="").exists()  # and no per-source agreement
