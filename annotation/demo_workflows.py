"""The demo study that runs issue 24's four workflows together: a consent statement and
questions about the raters, adaptive extra raters, reminders, and adjudication to a reference
standard. Everything goes through the services, as an admin, raters and an adjudicator would.

rater2 and rater3 have consented, answered and rated all their items; rater4 has not consented
yet, so logging in as rater4 shows the gate; rater1 is not in it, so the crawl of rater1's pages
(tests/test_blinding.py) and the main demo stay as they were."""

import random
from pathlib import Path

from annotation import services
from annotation.core import consent
from annotation.models import AdjudicationSelection, Assignment, Membership, Study, TaskRun

WORKFLOWS_TITLE = "Patient question summaries: consent, extra raters and adjudication (demo)"
CONSENT_TEXT = (
    "This demo study asks you to rate one-sentence summaries of patients' questions. Your "
    "ratings and your answers about your background are stored under a pseudonym and used "
    "only to evaluate the summaries. You may withdraw at any time from the study's page; the "
    "ratings you submitted before withdrawing are kept."
)
BACKGROUND_TEMPLATES = ("specialty", "years", "prior_ai")
# The consenting raters' answers: two specialties, so agreement by rater group has two groups.
BACKGROUND = {
    "rater2": {"specialty": "emergency", "years": 12, "prior_ai": "yes"},
    "rater3": {"specialty": "internal", "years": 4, "prior_ai": "no"},
}
# The emergency physician is lenient, the internist strict: enough items disagree for extras.
LENIENCY = {"rater2": 0.6, "rater3": -0.7}
# Range >= 2 on the 5-point question among the first 2 ratings calls 1 extra rater.
RULE = {"kind": "range", "question": "overall", "threshold": 2}
TYPICAL_SCORE = {"Expert-written summary": 4.5, "MedSumm-7B": 3.5, "Tiny-Baseline-LM": 2.0}
# The admin's choice for adjudication: decided items whose two scores differ at all. Those that
# differ by 2 or more wait for their extra rater (rater4, at the consent gate), so they are not
# decided yet: the choice finds the items one point apart.
ADJUDICATION_RULE = {"kind": "range", "question": "overall", "threshold": 1}
# How many of the chosen items the adjudicator has decided; the rest wait in their queue.
ADJUDICATED = 2


def workflows_demo_load(admin, raters, demo_file: Path, adjudicator) -> Study:
    """Build the study as a draft (consent, background questions, the adaptive rule), open it
    (reminders are on by default, after 3 stalled days: rater4 will be reminded), let the
    consenting raters rate, decide the extras, compute the statistics, and choose the decided
    items whose raters differ for `adjudicator`."""
    study = services.study_create(
        creator=admin,
        title=WORKFLOWS_TITLE,
        instructions=(
            "Each screen shows a patient's question and a one-sentence summary of it. Rate how "
            "well the summary captures what the patient needs answered."
        ),
        raters_per_item=2,
        question_prompt="How well does the summary capture the patient's question?",
        seed=20240510,
    )
    services.study_import_file(study=study, filename=demo_file.name, content=demo_file.read_bytes())
    services.study_consent_set(study=study, text=CONSENT_TEXT)
    for name in BACKGROUND_TEMPLATES:
        services.rater_question_add_template(study=study, name=name)
    services.study_add_raters(study=study, users=raters[1:])
    services.adaptive_design_set(study=study, rule=RULE, first_k=2, extra_m=1)
    services.study_open(study=study)
    study.refresh_from_db()  # study_open changed the status on its own locked copy
    _consented_ratings(study)
    # The submits queued each item's decision for after the commit; deciding here as well
    # leaves the extras in place whether or not a worker ever runs those tasks.
    services.adaptive_sweep(study=study)
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    _adjudicated(study, admin, adjudicator)
    return study


def _consented_ratings(study: Study) -> None:
    """rater2 and rater3 accept the statement, answer the background questions and rate every
    regular item they were given (extras come after, and stay in their queues)."""
    rng = random.Random(study.seed)
    question = study.questions.get()
    for username, answers in BACKGROUND.items():
        membership = study.memberships.get(user__username=username, role=Membership.Role.RATER)
        services.rater_consent_accept(membership=membership, version=study.consent_version)
        services.rater_answers_save(membership=membership, phase=consent.BACKGROUND, raw=answers)
        theirs = study.assignments.filter(rater=membership.user, kind=Assignment.Kind.STUDY)
        for assignment in theirs.select_related("item__output__source").order_by("position"):
            typical = TYPICAL_SCORE[assignment.item.output.source.label]
            score = typical + LENIENCY[username] + rng.gauss(0, 0.8)
            value = min(5, max(1, round(score)))
            services.rating_save(assignment=assignment, question=question, answer=value)
            services.assignment_submit(assignment=assignment)


def _adjudicated(study: Study, admin, adjudicator) -> None:
    """The admin chooses the decided items whose raters differ (those with an extra rating to
    come are not decided yet); the adjudicator (who rated none of them) records a reference
    for the first few."""
    services.adjudication_select(
        study=study, by=admin, mode=AdjudicationSelection.Mode.RULE, rule=ADJUDICATION_RULE
    )
    services.adjudicator_add(study=study, user=adjudicator)
    for adjudication in study.adjudications.order_by("pk")[:ADJUDICATED]:
        services.adjudication_record(
            adjudication=adjudication,
            user=adjudicator,
            answers={"overall": 3},
            reason="The summary keeps the question but drops the detail the patient stressed.",
        )
