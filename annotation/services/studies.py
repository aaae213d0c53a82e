"""Creating studies, their lifecycle (draft, open, locked, archived), and opening one: its
items and the seeded assignment manifest."""

import contextlib
import gc
import itertools
import json
import logging
import secrets
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from annotation.core import design, rubric
from annotation.models import (
    TOKEN_ALPHABET,
    AnalysisReopening,
    Assignment,
    Case,
    Item,
    ItemOutput,
    Membership,
    Output,
    Question,
    Study,
    TaskRun,
)
from annotation.selectors import judges_running
from annotation.services.adaptive_rule import rule_check_before_open
from annotation.services.audit import audit_record, changes, fields_of
from annotation.services.bundle import bundle_files_remove
from annotation.services.reading import reading_open
from annotation.services.task_runs import (
    cancel_requested,
    check_no_import_pending,
    statistics_recompute_final,
    statistics_recompute_soon,
    study_for_change,
    task_run_beating,
    task_run_create,
    task_run_finish,
)

logger = logging.getLogger(__name__)

# The first question's preset scales, in English; a study in another language gets them in its
# language (scale_in_language), with the same values, so that data from every site pools.
DEFAULT_SCALE = [
    {"value": 1, "label": gettext_noop("Very poor")},
    {"value": 2, "label": gettext_noop("Poor")},
    {"value": 3, "label": gettext_noop("Acceptable")},
    {"value": 4, "label": gettext_noop("Good")},
    {"value": 5, "label": gettext_noop("Excellent")},
]
PAIRWISE_SCALE = [
    # Translators: a pairwise preference between two responses shown as A and B.
    {"value": -2, "label": gettext_noop("B much better")},
    {"value": -1, "label": gettext_noop("B slightly better")},
    {"value": 0, "label": gettext_noop("Neither")},
    {"value": 1, "label": gettext_noop("A slightly better")},
    {"value": 2, "label": gettext_noop("A much better")},
]


def scale_in_language(scale: list[dict], language: str) -> list[dict]:
    """A preset scale (DEFAULT_SCALE, PAIRWISE_SCALE) with its labels in `language`."""
    with translation.override(language):
        return [{"value": point["value"], "label": gettext(point["label"])} for point in scale]


# The most outputs one screen shows together (side by side, ranking).
MAX_SHOWN_TOGETHER = 8


# --- studies and membership -------------------------------------------------------------------


def study_delete(*, study: Study) -> None:
    """Delete a study and everything in it. Its paper bundles, files outside the database that
    each hold the unblinding key, go once the deletion is committed."""
    token = study.token
    # Recorded after the deletion (the chain's lock is then held only until the commit, not
    # through the cascade), under the id and title it had.
    gone = Study(pk=study.pk, title=study.title)
    with transaction.atomic():
        study.delete()
        audit_record(action="study.deleted", study=gone, target=gone)
        transaction.on_commit(lambda: bundle_files_remove(study_token=token), robust=True)


@transaction.atomic
def study_create(
    *,
    creator: AbstractBaseUser,
    title: str,
    instructions: str = "",
    raters_per_item: int = 2,
    question_prompt: str,
    scale: list[dict] | None = None,
    level: str = Question.Level.ORDINAL,
    seed: int | None = None,
    show_reference: bool = False,
    design: str = Study.Design.ABSOLUTE,
    repeats_per_rater: int = 0,
    retests_per_rater: int = 0,
    washout_days: int = 0,
    language: str = settings.LANGUAGE_CODE,
) -> Study:
    study = Study(
        design=design,
        language=language,
        repeats_per_rater=repeats_per_rater,
        retests_per_rater=retests_per_rater,
        washout_days=washout_days,
        title=title,
        instructions=instructions,
        raters_per_item=raters_per_item,
        show_reference=show_reference,
        created_by=creator,
    )
    if seed is not None:
        study.seed = seed
    study.full_clean()
    study.save()
    Membership.objects.create(study=study, user=creator, role=Membership.Role.ADMIN)
    if design == Study.Design.PAIRWISE:
        preset = scale_in_language(PAIRWISE_SCALE, language)
        first = {"key": "preference", "kind": Question.Kind.PAIRWISE, "scale": preset}
    elif design == Study.Design.RANKING:
        first = {"key": "rank", "kind": Question.Kind.RANKING, "scale": []}
        level = Question.Level.ORDINAL
    else:
        scale = scale or scale_in_language(DEFAULT_SCALE, language)
        first = {"key": "overall", "kind": Question.Kind.LIKERT, "scale": scale}
    question = Question(study=study, prompt=question_prompt, level=level, **first)
    question.full_clean()
    question.save()
    audit_record(
        action="study.created",
        study=study,
        target=study,
        details={
            "settings": fields_of(study, STUDY_SETTINGS),
            "question": {"key": question.key, "kind": question.kind, "prompt": question.prompt},
        },
        user=creator,
    )
    return study


# The study's settings an entry of study.created lists.
STUDY_SETTINGS = (
    "title",
    "instructions",
    "design",
    "raters_per_item",
    "show_reference",
    "seed",
    "repeats_per_rater",
    "retests_per_rater",
    "washout_days",
)


def item_key(item: Item) -> str:
    # What stays the same in any copy of the study: case id and source label(s).
    labels = [o.source.label for o in item.canonical_outputs()]
    return "\x1f".join([item.output.case.external_id, *labels])


def shown_order(assignment: Assignment) -> tuple[str, ...]:
    """The sources of a pair or set in the order this rater sees them (A, B, ...); () for one
    output."""
    if len(shown := assignment.shown_outputs()) < 2:
        return ()
    return tuple(o.source.label for o in shown)


def study_opens_in_background(*, study: Study) -> bool:
    """Whether opening is left to a worker: when the study's outputs times its raters, the
    most assignments opening can make, pass OPEN_BACKGROUND_PLACEMENTS. A million assignments
    take tens of seconds to store, longer than a web request may last."""
    outputs = Output.objects.filter(case__study=study, sample=0).count()  # what items take
    raters = study.memberships.filter(role=Membership.Role.RATER).count()
    return outputs * raters > settings.OPEN_BACKGROUND_PLACEMENTS


def study_open_start(*, study: Study, user: AbstractBaseUser | None) -> TaskRun:
    """Queue the study's opening on a worker (study_open_run). Refused (ValidationError) unless
    the study is a draft with no import or opening already waiting or running."""
    return task_run_create(study=study, kind=TaskRun.Kind.OPEN, user=user)


def study_open_run(*, run: TaskRun) -> None:
    """A worker's opening of the study (study_open): all of it or nothing, its heartbeat kept
    while the assignments are written; a study that cannot be opened says why, as the
    dashboard's Open button would."""
    try:
        with task_run_beating(run), transaction.atomic():
            count = study_open(study=run.study, job=run)
            if cancel_requested(run):  # asked while it worked: nothing it wrote is kept
                raise _OpenCancelled
    except ValidationError as exc:
        task_run_finish(run=run, ok=False, message=" ".join(exc.messages))
        return
    except _OpenCancelled:
        task_run_finish(
            run=run, ok=False, message="Cancelled: the study is still a draft.", cancelled=True
        )
        return
    task_run_finish(run=run, ok=True, message=f"The study is open: {count} assignments stored.")


class _OpenCancelled(Exception):
    pass


@transaction.atomic
def study_open(*, study: Study, job: TaskRun | None = None) -> int:
    """Freeze the study's outputs into items and store every rater's seeded order. Refused
    while an import of the study waits or runs, or a worker's opening (other than `job`, the
    one doing this)."""
    if job is None:
        study = study_for_change(study.pk)
    else:
        study = Study.objects.select_for_update().get(pk=study.pk)
    check_no_import_pending(study)
    if study.is_reading:
        count = reading_open(study=study)
        audit_record(action="study.opened", study=study, target=study, details={"reads": count})
        return count
    raters = list(study.memberships.filter(role=Membership.Role.RATER).select_related("user"))
    _check_can_open(study, len(raters))
    rule_check_before_open(study=study)
    # The design is keyed on what stays the same in any copy of the study (case id, source label,
    # rater pseudonym), so the same file, raters and seed give the same manifest anywhere.
    built = _items_for(study)
    if not any(item.output.case.role == Case.Role.STUDY for item in built):
        raise ValidationError("No case has two outputs to compare.")
    _check_quality_cases(study, built)
    _check_expected_answers(study, built)
    _check_case_lists(study, built)
    Item.objects.bulk_create(built)
    members = [
        ItemOutput(item=item, output=output, slot=slot)
        for item in built
        for slot, output in enumerate(getattr(item, "planned_outputs", ()))
    ]
    ItemOutput.objects.bulk_create(members)
    items = {_key_of(item): item for item in built}
    by_role: dict[str, list[design.DesignItem]] = {role: [] for role in Case.Role.values}
    for key, item in sorted(items.items(), key=lambda pair: (pair[1].output.case_id, pair[0])):
        by_role[item.output.case.role].append(design.DesignItem(key, _sources_of(item)))
    users = {m.pseudonym: m.user for m in raters}
    with _no_cycle_collection(), ThreadPoolExecutor(max_workers=1) as digesting:
        manifest = _manifest(study, by_role, users)
        # The digest (seconds of CPU at a million placements) is made while the assignments are
        # written: this thread mostly waits for the database then, and the other's work needs
        # nothing from it.
        digest = digesting.submit(lambda: manifest.digest)
        assignments_create(study, manifest.placements, items=items, users=users)
        study.manifest_hash = digest.result()
    study.status = Study.Status.OPEN
    study.opened_at = timezone.now()
    study.training_items = len(by_role[Case.Role.TRAINING])
    study.save(update_fields=["status", "opened_at", "manifest_hash", "training_items"])
    audit_record(
        action="study.opened",
        study=study,
        target=study,
        details={
            "status": {"old": Study.Status.DRAFT, "new": Study.Status.OPEN},
            "assignments": len(manifest.placements),
            "manifest_hash": study.manifest_hash,
        },
    )
    return len(manifest.placements)


def _manifest(study: Study, by_role: dict[str, list[design.DesignItem]], users) -> design.Manifest:
    manifest = design.assign(
        items=by_role[Case.Role.STUDY],
        raters=list(users),
        k=study.raters_per_item,
        seed=study.seed,
    )
    placements = design.add_quality_control(
        manifest.placements, quality_control_of(study, by_role), seed=study.seed, raters=list(users)
    )
    if study.retests_per_rater:
        _check_retests(study, placements)
    return design.Manifest(seed=study.seed, k=study.raters_per_item, placements=tuple(placements))


def _check_retests(study: Study, placements: list[design.Placement]) -> None:
    """Refuse to open when a rater has fewer items to re-read than the study asks for (their
    items less those they see again as hidden repeats)."""
    rereads = Counter(p.rater for p in placements if p.kind == design.RETEST)
    raters = {p.rater for p in placements}
    short = sorted(r for r in raters if rereads[r] < study.retests_per_rater)
    if short:
        raise ValidationError(
            f"Each rater re-reads {study.retests_per_rater} of their items after the washout, "
            f"but {short[0]} has only {rereads[short[0]]} that could come back (hidden repeats "
            "are not re-read). Ask for fewer re-reads or repeats, or give each rater more items."
        )


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused: the manifest of a large study is millions of small
    objects, none in a cycle, and the collector would walk them all again and again as they
    are made (a third of the design's time at a million assignments). What garbage there is
    waits until the end."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def quality_control_of(
    study: Study, by_role: dict[str, list[design.DesignItem]]
) -> design.QualityControl:
    return design.QualityControl(
        training=tuple(by_role[Case.Role.TRAINING]),
        checks=tuple(by_role[Case.Role.ATTENTION]),
        repeats=study.repeats_per_rater,
        retests=study.retests_per_rater,
    )


def assignments_create(
    study: Study, placements, *, items: dict[str, Item], users: dict, earlier=()
) -> int:
    """Store placements as assignments; a repeat or re-read points at the rater's first sight
    of its item
    (among those created here, or the `earlier` assignments already stored). Rows are written
    as plain tuples, not model instances: a study of 50,000 outputs and 20 raters has a million
    (on PostgreSQL through COPY; see _assignments_insert)."""
    # An item's sources once, not once for each of its (up to 20) placements.
    canonical = {key: _sources_of(items[key]) for key in {p.item for p in placements}}
    firsts = [p for p in placements if p.kind not in design.SECOND_SIGHTS]
    repeats = [p for p in placements if p.kind in design.SECOND_SIGHTS]
    _assignments_insert(_assignment_rows(study, firsts, items, users, canonical))
    if repeats:
        first = _first_sights(study, repeats, items, users, earlier)
        _assignments_insert(_assignment_rows(study, repeats, items, users, canonical, first))
    return len(placements)


# The columns of the rows _assignments_insert takes, in order; the others are null but for
# time on task (0: its default is Django's, not the database's, so COPY names it).
ASSIGNMENT_COLUMNS = (
    "study_id",
    "item_id",
    "rater_id",
    "position",
    "kind",
    "flipped",
    "order",
    "token",
    "repeat_of_id",
    "session",
)


def _assignment_rows(
    study: Study, placements, items, users, canonical, first: dict | None = None
) -> Iterator[tuple]:
    """Made as they are written: on PostgreSQL the database takes each row as the next is
    made, on the other core. A repeat's row points at the `first` sight of its item."""
    tokens = new_tokens(len(placements))
    is_set = study.shows_sets
    item_ids = {key: item.pk for key, item in items.items()}  # not a model's pk a million times
    rater_ids = {name: user.pk for name, user in users.items()}
    for p, token in zip(placements, tokens, strict=True):
        item, rater = item_ids[p.item], rater_ids[p.rater]
        flipped, order = _shown(p.order, canonical[p.item], is_set=is_set)
        repeat_of = first[(rater, item)] if first else None
        yield (
            study.pk,
            item,
            rater,
            p.position,
            p.kind,
            flipped,
            order,
            token,
            repeat_of,
            p.session,
        )


def _first_sights(study: Study, repeats, items, users, earlier) -> dict[tuple[int, int], int]:
    """The id of each repeat's original: the rater's study assignment of the same item."""
    wanted = {(users[p.rater].pk, items[p.item].pk) for p in repeats}
    stored = Assignment.objects.filter(
        study=study,
        kind=Assignment.Kind.STUDY,
        rater_id__in={rater for rater, _ in wanted},
        item_id__in={item for _, item in wanted},
    ).values_list("rater_id", "item_id", "pk")
    found = {(a.rater_id, a.item_id): a.pk for a in earlier if a.kind == design.STUDY}
    found.update({(rater, item): pk for rater, item, pk in stored})
    return found


def _assignments_insert(rows: Iterable[tuple]) -> None:
    """Write assignment rows (ASSIGNMENT_COLUMNS). On PostgreSQL through COPY, which takes a
    million rows several times faster than batched INSERTs of model instances; elsewhere
    bulk_create."""
    if not _copies():
        Assignment.objects.bulk_create(
            (Assignment(**dict(zip(ASSIGNMENT_COLUMNS, row, strict=True))) for row in rows),
            batch_size=2000,
        )
        return
    columns = ", ".join(f'"{column}"' for column in (*ASSIGNMENT_COLUMNS, "time_on_task_ms"))
    statement = f"COPY {Assignment._meta.db_table} ({columns}) FROM STDIN"
    # COPY goes past Django's cursor wrapper, so its errors are wrapped here: a row the database
    # refuses (a duplicate token or place) raises Django's IntegrityError, as an INSERT would.
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(statement) as copy,
    ):
        for row in rows:
            order = json.dumps(row[6]) if row[6] else "[]"
            copy.write_row((*row[:6], order, *row[7:], 0))


def _token_stream() -> Iterator[str]:
    while True:
        yield from new_tokens(1000)


def _copies() -> bool:
    """Whether the database takes COPY (PostgreSQL through psycopg 3)."""
    return connection.vendor == "postgresql"


def new_tokens(n: int) -> list[str]:
    """n tokens as models.new_token makes them (16 of its 62 letters and digits, each uniform),
    from the same source of randomness, a hundred times faster: a random byte below 248 (4 x 62)
    picks a character, and the others are dropped, so that every character stays uniform."""
    table = bytes(ord(TOKEN_ALPHABET[b % 62]) if b < 248 else 0 for b in range(256))
    dropped = bytes(range(248, 256))
    text = b""
    while len(text) < 16 * n:
        text += secrets.token_bytes(17 * n + 64).translate(table, dropped)
    return [text[i : i + 16].decode() for i in range(0, 16 * n, 16)]


def _check_quality_cases(study: Study, built: list[Item]) -> None:
    """Each training or attention case must make exactly one item: one output (absolute), two
    (pairwise), or all of them shown together; so that its expected answers mean one thing."""
    shown = {
        Study.Design.ABSOLUTE: "exactly one output",
        Study.Design.PAIRWISE: "exactly two outputs",
        Study.Design.SIDE_BY_SIDE: "at least one output",
        Study.Design.RANKING: "at least two outputs",
    }[study.design]
    per_case = Counter(item.output.case_id for item in built)
    quality = study.cases.exclude(role=Case.Role.STUDY).annotate(n=Count("outputs"))
    problems = [
        f"Case {case.external_id!r} ({case.get_role_display().split(' (')[0].lower()}) has "
        f"{case.n} outputs; in this design it needs {shown}, to make one item."
        for case in quality.order_by("external_id")
        if per_case[case.pk] != 1
    ]
    if problems:
        raise ValidationError(problems[:20])


# What an expected answer can be checked against: one value per question.
CHECKABLE_KINDS = (
    Question.Kind.LIKERT,
    Question.Kind.SINGLE_CHOICE,
    Question.Kind.YES_NO,
    Question.Kind.NUMBER,
    Question.Kind.PAIRWISE,
)


def _check_expected_answers(study: Study, built: list[Item]) -> None:
    """Every expected answer of a training or attention case names a question it can check,
    and is an answer that question accepts."""
    questions = {q.key: q for q in study.questions.all()}
    problems = []
    cases = {item.output.case.external_id: item.output.case for item in built}
    for case_id, case in sorted(cases.items()):
        for key, answers in sorted(case.expected.items()):  # jsonb keeps no key order
            question = questions.get(key)
            where = f"Case {case_id!r}, expected answer for {key!r}"
            if question is None:
                problems.append(f"{where}: the study has no such question.")
            elif question.kind not in CHECKABLE_KINDS or study.asks_per_output(question):
                problems.append(f"{where}: a {question.get_kind_display()} cannot be checked.")
            else:
                for answer in answers:
                    try:
                        rubric.parse_answer(question.spec, answer)
                    except rubric.AnswerError as exc:
                        problems.append(f"{where}: {exc}")
    if problems:
        raise ValidationError(problems[:20])


# The list of its own each case needs for a question of these kinds: (Case field, question).
CASE_LISTS = {rubric.OMISSION: ("facts", "omission"), rubric.CRITERIA: ("criteria", "criteria")}


def _check_case_lists(study: Study, built: list[Item]) -> None:
    """An omission question checks each output against its case's facts, a criteria question
    against its case's criteria: every case raters see needs them. Checked here rather than at
    import, as questions may come after the cases (and a later import may add the lists)."""
    kinds = set(study.questions.filter(kind__in=CASE_LISTS).values_list("kind", flat=True))
    case_ids = {item.output.case_id for item in built}
    for kind in sorted(kinds):
        field, name = CASE_LISTS[kind]
        cases = Case.objects.filter(pk__in=case_ids).values_list("external_id", field)
        missing = sorted(external_id for external_id, given in cases if not given)
        if missing:
            named = ", ".join(repr(case_id) for case_id in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise ValidationError(
                f"The {name} question needs the {field} of every case; import a {field} column "
                f"for case {named}{more}."
            )


OPENING_READS = ("case__external_id", "case__role", "case__expected", "source__label")


def _items_for(study: Study) -> list[Item]:
    """One item per output; per pair of a case's outputs; or, side by side and for ranking, one
    per case with all its outputs (two at least to rank). Sources are sorted by label. A set
    item's outputs ride along, unsaved, as `planned_outputs`."""
    # Raters rate each source's first sample; further samples are for consistency measures.
    outputs = Output.objects.filter(case__study=study, sample=0).select_related("case", "source")
    # Only what opening reads (keys, roles, expected answers): not the texts and metadata of
    # every case and output, which at 50,000 outputs took a second to read and decode.
    outputs = outputs.only(*OPENING_READS)
    tokens = _token_stream()
    if study.design == Study.Design.ABSOLUTE:
        return [Item(study=study, output=o, token=next(tokens)) for o in outputs]
    by_case: dict[int, list[Output]] = {}
    for output in outputs:
        by_case.setdefault(output.case_id, []).append(output)
    items = []
    for case_outputs in by_case.values():
        ordered = sorted(case_outputs, key=lambda o: o.source.label)
        if study.design == Study.Design.PAIRWISE:
            for first, second in itertools.combinations(ordered, 2):
                items.append(Item(study=study, output=first, output_b=second, token=next(tokens)))
            continue
        if len(ordered) < 2 and study.design == Study.Design.RANKING:
            continue
        if len(ordered) > MAX_SHOWN_TOGETHER:
            raise ValidationError(
                f"Case {ordered[0].case.external_id!r} has {len(ordered)} outputs; at most "
                f"{MAX_SHOWN_TOGETHER} can be shown side by side on one screen."
            )
        item = Item(study=study, output=ordered[0], token=next(tokens))
        item.planned_outputs = ordered
        items.append(item)
    return items


def _key_of(item: Item) -> str:
    """`item_key` for an item built by `_items_for`, before its members are stored."""
    return "\x1f".join([item.output.case.external_id, *_labels(item)])


def _labels(item: Item) -> tuple[str, ...]:
    if hasattr(item, "planned_outputs"):  # built by _items_for, members not stored yet
        return tuple(o.source.label for o in item.planned_outputs)
    if "members" in getattr(item, "_prefetched_objects_cache", {}):  # read back, prefetched
        return tuple(o.source.label for o in item.canonical_outputs())
    if item.output_b is None:
        return (item.output.source.label,)
    return (item.output.source.label, item.output_b.source.label)


def _sources_of(item: Item) -> tuple[str, ...]:
    """The source labels of a pair or set, in canonical order; () for one output."""
    labels = _labels(item)
    return labels if len(labels) > 1 else ()


def _shown(order: tuple[str, ...], canonical: tuple[str, ...], *, is_set: bool) -> tuple:
    """The assignment's (flipped, order), which record the order a placement shows its
    sources in."""
    if is_set:  # one output has no order to record
        return (False, [canonical.index(label) for label in order] if order else [])
    return (bool(order) and order != canonical, [])


@transaction.atomic
def study_lock(*, study: Study) -> None:
    """Open -> locked: no answer changes any more, and the statistics are recomputed one last
    time, with every submitted rating; after that only a reopened analysis (analysis_reopen)
    changes them. Exports and statistics stay available. Not while a judge is running: what it
    adds after the lock would be in no locked figure."""
    _study_move(study, Study.Status.OPEN, Study.Status.LOCKED)
    _check_no_judge_running(study, "locking the study")
    _audit_move(study, "study.locked", Study.Status.OPEN)
    statistics_recompute_final(study=study)


@transaction.atomic
def study_archive(*, study: Study) -> None:
    """Locked -> archived: kept for the record, out of everyone's way, its statistics frozen
    for good (no reopening)."""
    locked = Study.objects.select_for_update().filter(pk=study.pk).first()
    if locked is not None and locked.analysis_reopened:
        raise ValidationError("The study's analysis is reopened: close it before archiving.")
    _study_move(study, Study.Status.LOCKED, Study.Status.ARCHIVED)
    _audit_move(study, "study.archived", Study.Status.LOCKED)


def _audit_move(study: Study, action: str, old: str) -> None:
    audit_record(
        action=action,
        study=study,
        target=study,
        details={"status": {"old": old, "new": study.status}},
    )


def _study_move(study: Study, source: str, target: str) -> None:
    # The row is locked until the caller's transaction ends: a judge run or recomputation
    # asked for meanwhile (task_runs._check_statistics_changeable) sees the new status.
    moved = Study.objects.filter(pk=study.pk, status=source).update(status=target)
    if not moved:
        names = dict(Study.Status.choices)
        raise ValidationError(f"Only a study that is {names[source].lower()} can be {target}.")
    study.refresh_from_db()
    logger.info("study %s is now %s", study.token, target)


def _check_no_judge_running(study: Study, doing: str) -> None:
    if running := judges_running(study=study):
        raise ValidationError(
            f"{', '.join(running)} {'is' if len(running) == 1 else 'are'} still judging: "
            f"wait for {'it' if len(running) == 1 else 'them'} to finish, or cancel, before "
            f"{doing}."
        )


# The longest reason for reopening a study's analysis that is kept.
REOPEN_REASON_MAX_CHARS = 2000


@transaction.atomic
def analysis_reopen(*, study: Study, by: AbstractBaseUser, reason: str) -> AnalysisReopening:
    """Reopen a locked study's analysis, for a reason that is recorded with who and when (and
    listed on the dashboard and in the paper bundle): until analysis_close, its judges, judge
    runs, recomputations and analysis settings may change its statistics. Its ratings stay
    locked. An archived study's analysis cannot be reopened."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    reason = reason.strip()
    if study.status == Study.Status.ARCHIVED:
        raise ValidationError("The study is archived: its analysis cannot be reopened.")
    if study.status != Study.Status.LOCKED:
        raise ValidationError("Only a locked study's analysis can be reopened.")
    if not reason:
        raise ValidationError("Say why the analysis is reopened: the reason is recorded.")
    if len(reason) > REOPEN_REASON_MAX_CHARS:
        raise ValidationError(
            f"The reason is {len(reason)} characters long; at most {REOPEN_REASON_MAX_CHARS}."
        )
    try:
        with transaction.atomic():
            reopening = AnalysisReopening.objects.create(study=study, opened_by=by, reason=reason)
    except IntegrityError:  # analysis_reopening_one_open
        raise ValidationError("The study's analysis is already reopened.") from None
    audit_record(
        action="analysis.reopened",
        study=study,
        target=reopening,
        details={"reason": reason},
        user=by,
    )
    logger.warning(
        "analysis of study %s reopened by %s (user %s): %r",
        study.token,
        by.get_username(),
        by.pk,
        reason,
    )
    return reopening


@transaction.atomic
def analysis_close(*, study: Study, by: AbstractBaseUser) -> AnalysisReopening:
    """Close a reopened analysis: the statistics are recomputed one last time, and freeze
    again. Not while a judge is running (what it adds afterwards would be in no figure)."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    reopening = study.reopenings.filter(closed_at__isnull=True).first()
    if reopening is None:
        raise ValidationError("The study's analysis is not reopened.")
    _check_no_judge_running(study, "closing the analysis")
    reopening.closed_at, reopening.closed_by = timezone.now(), by
    reopening.save(update_fields=["closed_at", "closed_by"])
    statistics_recompute_final(study=study, user=by)
    audit_record(action="analysis.closed", study=study, target=reopening, user=by)
    logger.warning(
        "analysis of study %s closed by %s (user %s)", study.token, by.get_username(), by.pk
    )
    return reopening


def _check_can_open(study: Study, n_raters: int) -> None:
    if study.status != Study.Status.DRAFT:
        raise ValidationError("Only a draft study can be opened.")
    if study.show_reference:
        # A reference shown beside an output with the same text would name that output's source.
        same = Output.objects.filter(case__study=study, text=F("case__reference")).exclude(
            case__reference=""
        )
        if found := same.select_related("case").first():
            raise ValidationError(
                f"Case {found.case.external_id!r}: its reference is also the text of an output "
                "raters would rate, so showing it would unblind them. Stop showing references, "
                "or leave that source out."
            )
    if not Output.objects.filter(case__study=study).exists():
        raise ValidationError("The study has no outputs to rate yet.")
    if n_raters < study.raters_per_item:
        raise ValidationError(
            f"Each output needs {study.raters_per_item} raters, but the study has {n_raters}."
        )


@transaction.atomic
def study_analysis_update(*, study: Study, p_adjustment: str, judge_epsilon: float) -> Study:
    """Change how the study's statistics are drawn, and recompute them (soon). Not once the
    study is locked, unless its analysis is reopened: its figures are then the paper's."""
    stored = Study.objects.select_for_update().get(pk=study.pk)
    if reason := stored.statistics_frozen_reason():
        raise ValidationError(reason)
    # From the row: a ModelForm has already set the new values on `study`.
    before = fields_of(stored, ("p_adjustment", "judge_epsilon"))
    study.p_adjustment, study.judge_epsilon = p_adjustment, judge_epsilon
    study.full_clean(validate_unique=False, validate_constraints=False)
    study.save(update_fields=["p_adjustment", "judge_epsilon"])
    after = fields_of(study, ("p_adjustment", "judge_epsilon"))
    if diff := changes(before, after):
        audit_record(action="settings.changed", study=study, target=study, details=diff)
    statistics_recompute_soon(study=study)
    return study


def study_language_set(*, study: Study, language: str) -> Study:
    """Say which language the study's own content is written in (one of LANGUAGES). Only a
    label for the rater pages and the template picker: no content is translated."""
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": f"Unknown language {language!r}."})
    if study.status == Study.Status.ARCHIVED:
        raise ValidationError("The study is archived: it cannot change.")
    Study.objects.filter(pk=study.pk).update(language=language)
    study.language = language
    return study
