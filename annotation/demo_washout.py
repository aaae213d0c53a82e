"""The demo's re-reading study: each rater re-reads 3 of their items in a second session that
opens 14 days after they finish the first (a washout), for test-retest reliability across
occasions. Loaded by annotation.demo with the other demo studies."""

import datetime
import random

from django.utils import timezone

from annotation import services
from annotation.models import Assignment, Study, TaskRun

WASHOUT_TITLE = "Re-reading after a washout (demo)"
WASHOUT_DAYS = 14
RETESTS = 3
# The typical score each source earns, as in the main demo.
TYPICAL = {"Expert-written summary": 4.5, "MedSumm-7B": 4.0, "Tiny-Baseline-LM": 1.5}


def washout_study(admin, raters, demo_file) -> Study:
    """rater1 starts fresh; rater2 and rater3 finished session 1 three weeks ago and have
    re-read their items since; rater4 finished session 1 just now and waits for session 2."""
    study = services.study_create(
        creator=admin,
        title=WASHOUT_TITLE,
        instructions="Rate how well each summary captures the patient's question. Some items "
        "come in a second session, which opens two weeks after you finish the first.",
        raters_per_item=2,
        question_prompt="How well does the summary capture the patient's question?",
        seed=20240505,
        retests_per_rater=RETESTS,
        washout_days=WASHOUT_DAYS,
    )
    services.study_import_file(study=study, filename=demo_file.name, content=demo_file.read_bytes())
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    study.refresh_from_db()
    rng = random.Random(study.seed)
    for rater in raters[1:]:
        _rate(study, rater, session=1, rng=rng)
    # As if rater2 and rater3 had finished session 1 three weeks ago: their washout has passed.
    weeks_ago = timezone.now() - datetime.timedelta(days=21)
    study.assignments.filter(rater__in=raters[1:3], session=1).update(submitted_at=weeks_ago)
    for rater in raters[1:3]:
        _rate(study, rater, session=2, rng=rng)
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    return study


def _rate(study: Study, rater, *, session: int, rng: random.Random) -> None:
    """Answer and submit the rater's items of one session; a re-read mostly as the first time."""
    question = study.questions.get()
    mine = study.assignments.filter(rater=rater, session=session).select_related(
        "item__output__source", "repeat_of"
    )
    for assignment in mine.order_by("position"):
        if assignment.kind == Assignment.Kind.RETEST:
            first = assignment.repeat_of.ratings.get(question=question).value
            value = min(5, max(1, round(first + rng.choice([0, 0, 0, 1, -1]))))
        else:
            typical = TYPICAL[assignment.item.output.source.label]
            value = min(5, max(1, round(typical + rng.gauss(0, 0.7))))
        services.rating_save(assignment=assignment, question=question, answer=value)
        services.assignment_submit(assignment=assignment)
