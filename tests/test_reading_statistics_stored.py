"""Assisted reading, statistics as stored: a sequential study read through the services, its
Results checked against an independent computation (scipy's binomial test, statsmodels'
McNemar, counts by hand)."""

import numpy as np
import pytest
from django.urls import reverse
from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from annotation import services
from annotation.models import AnswerScore, Question, Result, TaskRun
from annotation.services.statistics import agreement_compute
from tests.reading_support import CASES, reading_study

pytestmark = pytest.mark.django_db

ANSWERS = {c[0]: c[2] for c in CASES}
# (reader, case) -> (right unassisted, right assisted)
PLAN = {
    (0, "c1"): (False, True),
    (0, "c2"): (True, True),
    (0, "c3"): (False, True),
    (0, "c4"): (False, False),
    (1, "c1"): (True, False),
    (1, "c2"): (False, True),
    (1, "c3"): (True, True),
    (1, "c4"): (False, True),
}


def _read(study, readers):
    question = study.questions.get(kind=Question.Kind.ANSWER)
    for n, reader in enumerate(readers):
        reads = list(study.assignments.filter(rater=reader).order_by("position"))
        for first, second in zip(reads[::2], reads[1::2], strict=True):
            case = first.item.output.case.external_id
            unassisted, assisted = PLAN[(n, case)]
            # A wrong answer is one no case accepts ("Gout"): undecided until scored, below.
            right = [ANSWERS[case]]
            services.rating_save(
                assignment=first, question=question, answer=right if unassisted else ["Gout"]
            )
            services.assignment_submit(assignment=first)
            services.rating_save(
                assignment=second, question=question, answer=right if assisted else ["Gout"]
            )
            services.assignment_submit(assignment=second)


def test_accuracy_mcnemar_and_helped_are_stored_per_arm(client, study_admin, raters):
    readers = raters[:2]
    study = reading_study(study_admin, readers)
    services.study_open(study=study)
    _read(study, readers)
    # Unmatched wordings are undecided until a scorer decides them: decide them wrong here.
    AnswerScore.objects.filter(outcome="undecided").update(outcome="wrong", by="scorer")
    for n, read in enumerate(study.assignments.filter(arm__key="llm").order_by("position", "pk")):
        read.time_on_task_ms = 1000 * n + (1000 if n else 0)  # 0 s, then 2 s to 8 s
        read.save(update_fields=["time_on_task_ms"])
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    agreement_compute(run=services.task_run_claim(run_id=run.pk))
    results = {(r.statistic, r.source): r for r in Result.objects.filter(study=study)}
    unassisted = sum(first for first, _ in PLAN.values())
    assisted = sum(second for _, second in PLAN.values())
    accuracy = results[("reading_accuracy", "unassisted")]
    assert accuracy.value == pytest.approx(unassisted / 8)
    assert (accuracy.n_ratings, accuracy.n_raters, accuracy.n_units) == (8, 2, 4)
    assert results[("reading_accuracy", "llm")].value == pytest.approx(assisted / 8)
    b = sum(f and not s for f, s in PLAN.values())  # harmed
    c = sum(s and not f for f, s in PLAN.values())  # helped
    table = [
        [sum(f and s for f, s in PLAN.values()), b],
        [c, sum(not f and not s for f, s in PLAN.values())],
    ]
    test = results[("reading_mcnemar", "llm")]
    assert test.value == pytest.approx(sm_mcnemar(table, exact=True).pvalue)
    assert test.value == pytest.approx(binomtest(c, b + c, 0.5).pvalue)
    assert (test.detail["harmed"], test.detail["helped"]) == (b, c)
    changes = results[("reading_helped_harmed", "llm")]
    assert changes.value == pytest.approx(c / 8)
    assert "reading_mrmc" in {statistic for statistic, _ in results}
    mrmc = results[("reading_mrmc", "unassisted vs llm")]
    assert mrmc.value == pytest.approx(unassisted / 8 - assisted / 8)
    # Seconds per read: one read without a time is counted, not used.
    seconds = results[("reading_seconds", "llm")]
    assert (seconds.n_ratings, seconds.detail["timed"]) == (8, 7)
    assert seconds.value == pytest.approx(float(np.median(np.arange(2, 9))))
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[study.token])).text
    assert f"<td>{c + sum(f and s for f, s in PLAN.values())} / 8</td>" in page  # assisted right
    assert f"<dd>{c} of 8 pairs: wrong alone, right with assistance" in page
    assert f"<dd>{b} of 8 pairs: right alone, wrong with assistance" in page
    assert "Accuracy assisted (llm) minus unassisted" in page
