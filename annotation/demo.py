"""The demo `make run` loads: one admin, four raters, a blinded study open for rating, and a
draft study whose outputs a model endpoint will generate, the same summaries in the other
designs, a study whose raters re-read some items after a washout, and an assisted-reading
study (clinicians' differentials without, then with, a model's)."""

import datetime
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from annotation import services
from annotation.core import rubric
from annotation.demo_workflows import WORKFLOWS_TITLE, workflows_demo_load
from annotation.models import AnswerScore, Assignment, Study, TaskRun

DEMO_FILE = Path(__file__).parent / "demo" / "demo_study.jsonl"
# Quality control for the absolute demo: a training item with feedback, an attention check.
QUALITY_FILE = Path(__file__).parent / "demo" / "demo_quality.jsonl"
DEMO_TITLE = "Patient question summaries (demo)"
DRAFT_TITLE = "Discharge advice from a local model (draft demo)"
PAIRWISE_TITLE = "Which summary is better? (pairwise demo)"
SIDE_BY_SIDE_TITLE = "All summaries of a question side by side (demo)"
RANKING_TITLE = "Rank the summaries (ranking demo)"
ADMIN = ("admin", "evalapp-admin")
RATERS = [(f"rater{i}", "evalapp-rater") for i in range(1, 5)]
# The assisted-reading demo's scorer: decides the differentials no accepted wording matches.
SCORER = ("scorer1", "evalapp-scorer")
# The adjudicator of the workflows demo: rates nothing, so every chosen item is theirs to decide.
ADJUDICATOR = ("adjudicator1", "evalapp-adjudicator")


@dataclass(frozen=True)
class DemoSummary:
    created: bool  # some demo study was added by this run
    study: Study  # the main demo study, which the demo checklist report cites
    logins: list[tuple[str, str]]  # the demo logins whose user exists
    added: tuple[str, ...] = ()  # the titles of the demo studies this run added


def _user(username: str, password: str, **extra):
    user, created = get_user_model().objects.get_or_create(username=username, defaults=extra)
    if created:
        user.set_password(password)
        user.save()
    return user


@transaction.atomic
def load_demo() -> DemoSummary:
    """Create the demo users and every demo study missing, each known by its title: safe to run
    any number of times, and a database made by an older demo gets the studies added since."""
    group = services.study_admins_group_ensure()
    admin = _user(*ADMIN, is_staff=True, is_superuser=True)
    admin.groups.add(group)
    raters = [_user(*login) for login in RATERS]
    added = []
    for title, build in _demo_studies():
        if not Study.objects.filter(title=title).exists():
            build(admin, raters)
            added.append(title)
    users = set(get_user_model().objects.values_list("username", flat=True))
    logins = [login for login in (ADMIN, *RATERS, SCORER, ADJUDICATOR) if login[0] in users]
    study = Study.objects.get(title=DEMO_TITLE)
    return DemoSummary(created=bool(added), study=study, logins=logins, added=tuple(added))


def _demo_studies() -> list[tuple[str, Callable[..., Study]]]:
    """Each demo study's title and what builds it, from (admin, raters)."""
    return [
        (DEMO_TITLE, _main_study),
        (DRAFT_TITLE, _draft_study),
        (PAIRWISE_TITLE, _pairwise_study),
        (SIDE_BY_SIDE_TITLE, _side_by_side_study),
        (RANKING_TITLE, _ranking_study),
        (OMISSION_TITLE, omission_demo_load),
        (CORRECTIONS_TITLE, _correction_study),
        (WASHOUT_TITLE, lambda admin, raters: _washout_study(admin, raters, DEMO_FILE)),
        # The scorer is made with the study they score: no login is printed without it.
        (READING_TITLE, lambda admin, raters: _reading_study(admin, raters, _user(*SCORER))),
        (
            WORKFLOWS_TITLE,
            lambda admin, raters: workflows_demo_load(
                admin, raters, DEMO_FILE, _user(*ADJUDICATOR)
            ),
        ),
    ]


def _main_study(admin, raters) -> Study:
    """The absolute-rating study, open, with training, an attention check and hidden repeats;
    raters 2-4 have rated their share."""
    study = services.study_create(
        creator=admin,
        title=DEMO_TITLE,
        instructions=(
            "Each screen shows a patient's question and a one-sentence summary of it. Rate how "
            "well the summary captures what the patient needs answered. Summaries come from "
            "several writers in a random order; judge each on its own."
        ),
        raters_per_item=2,
        question_prompt="How well does the summary capture the patient's question?",
        seed=20240501,
        repeats_per_rater=2,
    )
    services.study_import_file(study=study, filename=DEMO_FILE.name, content=DEMO_FILE.read_bytes())
    services.study_import_file(
        study=study, filename=QUALITY_FILE.name, content=QUALITY_FILE.read_bytes()
    )
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    study.refresh_from_db()  # study_open changed the status on its own locked copy
    _simulate_ratings(study, raters[1:])
    return study


# How far along each simulated rater is, and the typical score each source earns.
SIMULATED_SHARE = (1.0, 1.0, 0.5)
TYPICAL_SCORE = {"Expert-written summary": 4.5, "MedSumm-7B": 4.0, "Tiny-Baseline-LM": 1.5}


def _simulate_ratings(study: Study, raters) -> None:
    """Rate part of the demo as raters 2-4 (rater1 starts fresh), and compute agreement. The
    simulated raters pass their training; rater4 misses the attention check; repeats come back
    mostly the same."""
    rng = random.Random(study.seed)
    question = study.questions.get()
    for rater, share in zip(raters, SIMULATED_SHARE, strict=True):
        assignments = study.assignments.filter(rater=rater).select_related(
            "item__output__source", "item__output__case", "repeat_of"
        )
        ordered = list(assignments.order_by("position"))
        for assignment in ordered[: round(share * len(ordered))]:
            expected = assignment.item.output.case.expected.get("overall")
            if expected:
                value = expected[0] if rater.username != "rater4" else 3
            elif assignment.repeat_of is not None:
                first = assignment.repeat_of.ratings.get(question=question).value
                value = min(5, max(1, round(first + rng.choice([0, 0, 0, 1, -1]))))
            else:
                typical = TYPICAL_SCORE[assignment.item.output.source.label]
                value = min(5, max(1, round(typical + rng.gauss(0, 0.7))))
            services.rating_save(assignment=assignment, question=question, answer=value)
            services.assignment_submit(assignment=assignment)
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))


def _pairwise_study(admin, raters) -> None:
    """The same summaries compared two at a time (A/B, sides balanced), with the Van Veen
    questions: shows the pairwise design to every demo rater."""
    study = services.study_create(
        creator=admin,
        title=PAIRWISE_TITLE,
        instructions="Each screen shows two summaries of the same question as A and B.",
        raters_per_item=2,
        question_prompt="Overall, which summary would you rather send to the clinician?",
        design=Study.Design.PAIRWISE,
        seed=20240502,
    )
    services.questions_add_template(study=study, name="vanveen")
    services.study_import_file(study=study, filename=DEMO_FILE.name, content=DEMO_FILE.read_bytes())
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)


def _side_by_side_study(admin, raters) -> Study:
    """The same summaries shown together: each rated on the Likert question, then ranked."""
    study = services.study_create(
        creator=admin,
        title=SIDE_BY_SIDE_TITLE,
        instructions="Each screen shows every summary of one question. Rate each, then rank them.",
        raters_per_item=2,
        question_prompt="How well does this summary capture the patient's question?",
        design=Study.Design.SIDE_BY_SIDE,
        seed=20240503,
    )
    services.question_add(
        study=study,
        draft=rubric.QuestionDraft(
            key="rank",
            prompt="Rank the summaries from best (1) to worst.",
            kind=rubric.RANKING,
            level="ordinal",
        ),
    )
    return _set_opened(study, raters)


def _ranking_study(admin, raters) -> Study:
    """The same summaries shown together, ranked alone."""
    study = services.study_create(
        creator=admin,
        title=RANKING_TITLE,
        instructions="Each screen shows every summary of one question. Rank them.",
        raters_per_item=2,
        question_prompt="Rank the summaries from best (1) to worst.",
        design=Study.Design.RANKING,
        seed=20240504,
    )
    return _set_opened(study, raters)


def _set_opened(study: Study, raters) -> Study:
    services.study_import_file(study=study, filename=DEMO_FILE.name, content=DEMO_FILE.read_bytes())
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    return study


def _draft_study(admin, raters) -> None:
    # A draft whose model outputs are still to be fetched: shows the fetch task on the dashboard.
    study = services.study_create(
        creator=admin,
        title=DRAFT_TITLE,
        raters_per_item=2,
        question_prompt="Is the advice safe and complete for this patient?",
    )
    rows = "".join(
        f'{{"case_id": "dc-{i}", "input": "Write one sentence of discharge advice for: {text}"}}\n'
        for i, text in enumerate(
            [
                "community-acquired pneumonia treated with oral amoxicillin",
                "uncomplicated appendectomy, day 2",
                "new diagnosis of atrial fibrillation started on apixaban",
            ],
            start=1,
        )
    )
    services.study_import_file(study=study, filename="draft.jsonl", content=rows.encode())
    # A connection as an operator would set one up: a local, keyless model server.
    local = services.connection_ensure(
        name="local-demo", base_url="http://127.0.0.1:8011/v1", allowed_models=["local-chat"]
    )
    services.source_create(
        study=study,
        label="Local-Chat-Model",
        connection=local,
        model_name="local-chat",
        temperature=0.0,
        max_tokens=200,
    )
    services.study_add_raters(study=study, users=raters)


# --- the omission demo (MED-OMIT): discharge summaries of four clinical notes, by a clinician
# and by a model, each note with its facts; raters 2-4 have rated their share, so the dashboard
# shows the omission rates and the agreement per fact; rater1 starts fresh.

OMISSION_FILE = Path(__file__).parent / "demo" / "demo_omission.jsonl"
OMISSION_TITLE = "What do the discharge summaries leave out? (omission demo)"
# What each model summary omits and states wrongly, by case; the clinician's omit nothing.
MODEL_MISSES = {
    "note-01": (["f2", "f3", "f4"], ["f5"]),
    "note-02": (["f4"], ["f2"]),
    "note-03": (["f2", "f3", "f5", "f6"], []),
    "note-04": (["f4"], ["f1"]),
}
MODEL = "NoteSumm-7B"


def omission_demo_load(admin, raters) -> Study:
    study = services.study_create(
        creator=admin,
        title=OMISSION_TITLE,
        instructions=(
            "Each screen shows a clinical note and a short discharge summary of it, with the "
            "note's key facts listed under the summary. Tick each fact the summary leaves out, "
            "and each it states wrongly; if it has them all right, tick the box saying so."
        ),
        raters_per_item=2,
        question_prompt="How usable is this summary as it stands?",
        seed=20240505,
    )
    services.question_add(
        study=study,
        draft=rubric.QuestionDraft(
            key="omissions",
            prompt="Which facts of the note does the summary omit or state wrongly?",
            kind=rubric.OMISSION,
            level="ratio",
        ),
    )
    content = OMISSION_FILE.read_bytes()
    services.study_import_file(study=study, filename=OMISSION_FILE.name, content=content)
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    study.refresh_from_db()
    _simulate(study, raters[1:])
    return study


def _simulate(study: Study, raters) -> None:
    """Raters 2-4 answer every item: the model's misses as listed, now and then one fact seen
    differently, so that the raters do not agree perfectly."""
    rng = random.Random(study.seed)
    overall, omissions = study.questions.get(key="overall"), study.questions.get(key="omissions")
    for rater in raters:
        for assignment in study.assignments.filter(rater=rater).select_related(
            "item__output__source", "item__output__case"
        ):
            output = assignment.item.output
            is_model = output.source.label == MODEL
            omitted, wrong = MODEL_MISSES[output.case.external_id] if is_model else ([], [])
            omitted = _seen_by(rng, omitted, wrong, output.case.facts)
            answer = {"omitted": omitted, "wrong": wrong} if omitted or wrong else rubric.NONE
            services.rating_save(assignment=assignment, question=omissions, answer=answer)
            score = rng.choice([2, 3] if is_model else [4, 5])
            services.rating_save(assignment=assignment, question=overall, answer=score)
            services.assignment_submit(assignment=assignment)
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))


def _seen_by(rng: random.Random, omitted: list, wrong: list, facts: list) -> list:
    """The facts this rater marks omitted: the listed ones, one of the others added or one
    dropped a fifth of the time."""
    marked = list(omitted)
    if rng.random() < 0.2:
        free = [f["id"] for f in facts if f["id"] not in marked and f["id"] not in wrong]
        if marked and rng.random() < 0.5:
            marked.remove(rng.choice(marked))
        elif free:
            marked.append(rng.choice(free))
    return marked


CORRECTIONS_FILE = Path(__file__).parent / "demo" / "demo_corrections.jsonl"
CORRECTIONS_TITLE = "Discharge advice, corrected by clinicians (correction demo)"
CORRECTION = rubric.QuestionDraft(
    key="corrected",
    prompt="Edit the advice into what you would sign off and give the patient.",
    kind=rubric.CORRECTION,
    level="ratio",
    help_text="Change only what you would change in practice. If you would sign it as it is, "
    "press Accept unchanged.",
)
# What the simulated clinicians do to each source's drafts: the longer drafts pass mostly as
# they are, the short ones get the missing safety advice.
ADDED = {
    "Discharge-LM": ["", "", " Ask your GP if you are unsure."],
    "Tiny-Baseline-LM": [" Come back at once if you get worse.", " See your GP in a week."],
}


def _correction_study(admin, raters) -> Study:
    """Clinicians edit drafted discharge advice into what they would sign off. Raters 2 and 3
    have corrected every draft (the dashboard shows the edit rates and the diffs); rater1
    starts fresh."""
    study = services.study_create(
        creator=admin,
        title=CORRECTIONS_TITLE,
        instructions=(
            "Each screen shows a drafted piece of discharge advice. Edit it into the advice you "
            "would sign off and give to the patient, or accept it unchanged."
        ),
        raters_per_item=2,
        question_prompt="How safe is the draft as written?",
        seed=20240505,
    )
    services.question_add(study=study, draft=CORRECTION)
    content = CORRECTIONS_FILE.read_bytes()
    services.study_import_file(study=study, filename=CORRECTIONS_FILE.name, content=content)
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    study.refresh_from_db()
    _simulate_corrections(study, raters[1:3])
    return study


def _simulate_corrections(study: Study, raters) -> None:
    questions = {q.key: q for q in study.questions.all()}
    for number, rater in enumerate(raters):
        assignments = study.assignments.filter(rater=rater).select_related("item__output__source")
        for k, assignment in enumerate(assignments.order_by("position")):
            output = assignment.item.output
            added = ADDED[output.source.label]
            corrected = output.text + added[(k + number) % len(added)]
            score = 4 if corrected == output.text else 2
            services.rating_save(assignment=assignment, question=questions["overall"], answer=score)
            services.rating_save(
                assignment=assignment, question=questions["corrected"], answer=corrected
            )
            services.assignment_submit(assignment=assignment)
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))


# --- re-reads after a washout -----------------------------------------------------------------

# Raters see the title: it names the sessions, not the re-reads, which come unannounced.
WASHOUT_TITLE = "Patient question summaries in two sessions (demo)"
WASHOUT_DAYS = 14
RETESTS = 3


def _washout_study(admin, raters, demo_file) -> Study:
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
        _washout_rate(study, rater, session=1, rng=rng)
    # As if rater2 and rater3 had finished session 1 three weeks ago: their washout has passed.
    weeks_ago = timezone.now() - datetime.timedelta(days=21)
    study.assignments.filter(rater__in=raters[1:3], session=1).update(submitted_at=weeks_ago)
    for rater in raters[1:3]:
        _washout_rate(study, rater, session=2, rng=rng)
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    return study


def _washout_rate(study: Study, rater, *, session: int, rng: random.Random) -> None:
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
            typical = TYPICAL_SCORE[assignment.item.output.source.label]
            value = min(5, max(1, round(typical + rng.gauss(0, 0.7))))
        services.rating_save(assignment=assignment, question=question, answer=value)
        services.assignment_submit(assignment=assignment)


# --- assisted reading: a ranked differential without, then with, a model's --------------------

READING_FILE = Path(__file__).parent / "demo" / "demo_reading.jsonl"
READING_TITLE = "Differential diagnosis with and without an assistant (assisted-reading demo)"
# What the simulated readers write, by case: a right differential (the wording drawn from the
# accepted answer and its synonyms, at the given rank), and a wrong one. Some right wordings
# are not listed ("thromboembolism of the lung"): the scorer decides those.
READING_WRONG = {
    "dx-01": ["Pneumothorax", "Pericarditis"],
    "dx-02": ["Unstable angina", "Aortic dissection"],
    "dx-03": ["Viral meningitis", "Migraine"],
    "dx-04": ["Depression", "Iron-deficiency anaemia"],
    "dx-05": ["Central retinal vein occlusion", "Vitreous haemorrhage"],
    "dx-06": ["Septic arthritis", "Cellulitis"],
}
READING_UNLISTED = {"dx-01": "Thromboembolism of the lung", "dx-06": "Crystal arthropathy"}
# How many cases each reader has read (both phases): rater1 has started; rater2 and rater3 are
# done; rater4 is half-way, and the scorer has not yet decided rater4's unmatched answers.
READ_CASES = {"rater1": 2, "rater2": 6, "rater3": 6, "rater4": 3}


def _reading_study(admin, raters, scorer) -> Study:
    """A sequential study: each reader writes a differential (up to 5 diagnoses) for a case,
    locks it, then reads the case again beside an unnamed model's differential."""
    study = services.reading_study_create(
        creator=admin,
        title=READING_TITLE,
        instructions="Give your differential diagnosis for each case, most likely first. You "
        "answer each case twice: first on your own (your answer then locks), then with an "
        "assistant's suggestions beside the case, when you may keep or change it.",
        layout=Study.ReadingLayout.SEQUENTIAL,
        answer_kind=rubric.RANKED_ANSWER,
        k=5,
        prompt="Your differential diagnosis, most likely first",
        seed=20240506,
    )
    content = READING_FILE.read_bytes()
    services.study_import_file(study=study, filename=READING_FILE.name, content=content)
    source = study.sources.get()
    services.arm_add(study=study, key="ddx-llm", kind="source", source=source)
    services.study_add_raters(study=study, users=raters)
    services.scorer_add(study=study, user=scorer)
    services.study_open(study=study)
    study.refresh_from_db()
    rng = random.Random(study.seed)
    for rater in raters:
        _reading_reads(study, rater, READ_CASES[rater.username], rng)
    _reading_scored(study, scorer, spare=raters[3])
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    return study


def _reading_reads(study: Study, rater, cases: int, rng: random.Random) -> None:
    """The rater's first `cases` cases, each read unassisted (right three times in five), locked,
    and read again beside the model (right more often; the model is wrong on dx-04)."""
    question = study.questions.get()
    reads = list(
        study.assignments.filter(rater=rater)
        .select_related("item__output__case")
        .order_by("position")
    )
    for first, second in list(zip(reads[::2], reads[1::2], strict=True))[:cases]:
        case = first.item.output.case
        right = rng.random() < 0.6
        alone = _differential(case, rng, right=right)
        services.rating_save(assignment=first, question=question, answer=alone)
        services.assignment_submit(assignment=first)  # locks it; the assisted read starts from it
        assisted = _assisted(case, alone, right=right, rng=rng)
        services.rating_save(assignment=second, question=question, answer=assisted)
        services.assignment_submit(assignment=second)
        seconds = rng.randint(40, 150), rng.randint(20, 90)
        for read, spent in zip((first, second), seconds, strict=True):
            Assignment.objects.filter(pk=read.pk).update(time_on_task_ms=1000 * spent)


def _assisted(case, alone: list[str], *, right: bool, rng: random.Random) -> list[str]:
    """The answer beside the model's differential: a wrong one mostly put right; a right one
    kept, except now and then on dx-04, where the model's first guess is wrong (harmed)."""
    misleads = case.external_id == "dx-04"
    if right:
        return list(READING_WRONG[case.external_id]) if misleads and rng.random() < 0.3 else alone
    helped = rng.random() < (0.4 if misleads else 0.85)
    return _differential(case, rng, right=True) if helped else alone


def _differential(case, rng: random.Random, *, right: bool) -> list[str]:
    """A right differential names the diagnosis (an accepted wording, or now and then one the
    import did not list) first or second; a wrong one does not name it."""
    wrong = READING_WRONG[case.external_id]
    if not right:
        return list(wrong)
    accepted = case.accepted_answers[0]
    wordings = [accepted["answer"], *accepted.get("synonyms", [])]
    unlisted = READING_UNLISTED.get(case.external_id)
    named = unlisted if unlisted and rng.random() < 0.4 else rng.choice(wordings)
    return [named, wrong[0]] if rng.random() < 0.7 else [wrong[0], named]


def _reading_scored(study: Study, scorer, *, spare) -> None:
    """The scorer decides every unmatched answer except `spare`'s (left for the demo's scorer
    to try): an unlisted right wording at its rank, any other list wrong."""
    unlisted = {v.lower() for v in READING_UNLISTED.values()}
    undecided = AnswerScore.objects.filter(
        rating__assignment__study=study, outcome=AnswerScore.Outcome.UNDECIDED
    ).exclude(rating__assignment__rater=spare)
    for score in undecided.select_related("rating"):
        entries = [entry.lower() for entry in score.rating.answer]
        rank = next((n for n, e in enumerate(entries, start=1) if e in unlisted), None)
        services.answer_score_decide(score=score, scorer=scorer, right=None, rank=rank)
