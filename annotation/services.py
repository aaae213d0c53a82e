"""Every write to reader-study data goes through these functions; views and tasks stay thin."""

import dataclasses
import hashlib
import itertools
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePath

import yaml
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from rest_framework.authtoken.models import Token

from annotation import agreement, design, llm, rubric
from annotation.importing import (
    MAX_PROBLEMS,
    ImportRejected,
    ImportRow,
    Problem,
    parse_study_file,
)
from annotation.models import (
    Assignment,
    Case,
    Generation,
    Invitation,
    Item,
    Membership,
    Output,
    Question,
    Rating,
    RatingRevision,
    Result,
    Source,
    Study,
    TaskRun,
)

logger = logging.getLogger(__name__)

DEFAULT_SCALE = [
    {"value": 1, "label": "Very poor"},
    {"value": 2, "label": "Poor"},
    {"value": 3, "label": "Acceptable"},
    {"value": 4, "label": "Good"},
    {"value": 5, "label": "Excellent"},
]
PAIRWISE_SCALE = [
    {"value": -2, "label": "B much better"},
    {"value": -1, "label": "B slightly better"},
    {"value": 0, "label": "Neither"},
    {"value": 1, "label": "A slightly better"},
    {"value": 2, "label": "A much better"},
]


# --- studies and membership -------------------------------------------------------------------


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
) -> Study:
    study = Study(
        design=design,
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
    pairwise = design == Study.Design.PAIRWISE
    question = Question(
        study=study,
        key="preference" if pairwise else "overall",
        kind=Question.Kind.PAIRWISE if pairwise else Question.Kind.LIKERT,
        prompt=question_prompt,
        scale=PAIRWISE_SCALE if pairwise else (scale or DEFAULT_SCALE),
        level=level,
    )
    question.full_clean()
    question.save()
    return study


@transaction.atomic
def study_add_raters(*, study: Study, users: Iterable[AbstractBaseUser]) -> list[Membership]:
    """Add raters; in an open study they take over unstarted work from the busiest raters."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.status not in (Study.Status.DRAFT, Study.Status.OPEN):
        raise ValidationError("Raters can only be added while the study is a draft or open.")
    roles = dict(study.memberships.values_list("user_id", "role"))
    users = list(users)
    if any(roles.get(user.pk) == Membership.Role.ADMIN for user in users):
        # Admins can export ratings and the unblinding key: as raters they would not be blind.
        raise ValidationError("A study's admins cannot also rate it.")
    count = sum(role == Membership.Role.RATER for role in roles.values())
    added = []
    for user in users:
        if user.pk in roles:
            continue
        count += 1
        membership = Membership.objects.create(
            study=study, user=user, role=Membership.Role.RATER, pseudonym=f"R{count}"
        )
        added.append(membership)
        roles[user.pk] = Membership.Role.RATER
    if study.status == Study.Status.OPEN and added:
        _assignments_share_with(study, [m.pseudonym for m in added])
    return added


def _item_key(item: Item) -> str:
    # What stays the same in any copy of the study: case id and source label(s).
    key = f"{item.output.case.external_id}\x1f{item.output.source.label}"
    return f"{key}\x1f{item.output_b.source.label}" if item.output_b_id else key


def _shown_order(assignment: Assignment) -> tuple[str, ...]:
    """The sources of a pair in the order this rater sees them (A, B); () for one output."""
    item = assignment.item
    if not item.is_pair:
        return ()
    pair = (item.output.source.label, item.output_b.source.label)
    return pair[::-1] if assignment.flipped else pair


def _assignments_share_with(study: Study, pseudonyms: list[str]) -> None:
    """Move unstarted assignments to newly added raters (design.add_raters)."""

    def redesign(before, movable):
        return design.add_raters(
            placements=before, new_raters=pseudonyms, movable=movable, seed=study.seed
        )

    _assignments_redesign(study, redesign)


@transaction.atomic
def assignments_reassign(*, study: Study, rater: AbstractBaseUser) -> int:
    """Give a rater's unstarted assignments (from the end of their order) to the other raters
    (design.reassign). Returns how many moved."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.status != Study.Status.OPEN:
        raise ValidationError("Work can only be reassigned while the study is open.")
    membership = study.memberships.filter(user=rater, role=Membership.Role.RATER).first()
    if membership is None:
        raise ValidationError(f"{rater} is not a rater of this study.")
    before = study.assignments.filter(rater=rater).count()
    pseudonyms = study.memberships.filter(role=Membership.Role.RATER).values_list(
        "pseudonym", flat=True
    )

    def redesign(placements, movable):
        return design.reassign(
            placements=placements,
            rater=membership.pseudonym,
            raters=list(pseudonyms),
            movable=movable,
            seed=study.seed,
        )

    _assignments_redesign(study, redesign)
    return before - study.assignments.filter(rater=rater).count()


def _assignments_redesign(study: Study, redesign) -> None:
    """Apply a change of the stored manifest that moves only unstarted work, then store the new
    manifest's digest. Started work (opened or rated) keeps its rater and position."""
    memberships = study.memberships.filter(role=Membership.Role.RATER).select_related("user")
    name = {m.user_id: m.pseudonym for m in memberships}
    user = {m.pseudonym: m.user for m in memberships}
    # Lock the rows: a rating saved meanwhile must not travel with its row to another rater
    # (rating_save locks the assignment too, and refuses once it has moved).
    rows = list(
        study.assignments.select_for_update(of=("self",))
        .select_related("item__output__case", "item__output__source", "item__output_b__source")
        .annotate(rated=Exists(Rating.objects.filter(assignment=OuterRef("pk"))))
    )
    current = {(name[a.rater_id], _item_key(a.item)): a for a in rows}
    movable = {key for key, a in current.items() if a.first_opened_at is None and not a.rated}
    before = [
        design.Placement(r, item, a.position, _shown_order(a)) for (r, item), a in current.items()
    ]
    after = redesign(before, movable)
    placed = {(p.rater, p.item): p.position for p in after}
    arrivals = [p for p in after if (p.rater, p.item) not in current]
    changed = []
    for (rater, item), assignment in current.items():
        if (rater, item) in placed:
            new_rater, position = rater, placed[(rater, item)]
        else:  # moved: to a newcomer holding this item with the same sides as shown before
            shown = _shown_order(assignment)
            arrival = next(p for p in arrivals if p.item == item and p.order == shown)
            arrivals.remove(arrival)
            new_rater, position = arrival.rater, arrival.position
        if (name[assignment.rater_id], assignment.position) != (new_rater, position):
            assignment.rater, assignment.position = user[new_rater], position
            changed.append(assignment)
    # Two passes keep (rater, position) unique at every step.
    offset = 1 + max((a.position for a in rows), default=0) + len(rows)
    for assignment in changed:
        assignment.position += offset
    Assignment.objects.bulk_update(changed, ["rater", "position"])
    for assignment in changed:
        assignment.position -= offset
    Assignment.objects.bulk_update(changed, ["position"])
    manifest = design.Manifest(seed=study.seed, k=study.raters_per_item, placements=tuple(after))
    study.manifest_hash = manifest.digest
    study.save(update_fields=["manifest_hash"])


def invitations_send(
    *, study: Study, emails: Iterable[str], inviter: AbstractBaseUser, link_for
) -> list[Invitation]:
    """Create one single-use link per address and e-mail it. `link_for(token)` builds the
    absolute URL (the view knows the host)."""
    if study.status not in (Study.Status.DRAFT, Study.Status.OPEN):
        raise ValidationError("Raters can only be invited while the study is a draft or open.")
    invitations = [
        Invitation.objects.create(study=study, email=email, created_by=inviter) for email in emails
    ]
    for invitation in invitations:
        send_mail(
            subject=f"You are invited to rate for {study.title!r}",
            message=(
                f"{inviter} invites you to rate outputs for the study {study.title!r} in "
                f"evalapp. Follow this link to join (it works once):\n\n"
                f"{link_for(invitation.token)}\n"
            ),
            from_email=None,
            recipient_list=[invitation.email],
        )
    return invitations


def invitation_check(*, token: str) -> Invitation:
    """The invitation if it can still be accepted; otherwise ValidationError saying why."""
    invitation = Invitation.objects.select_related("study").filter(token=token).first()
    if invitation is None:
        raise ValidationError("This invitation link is not valid.")
    if invitation.accepted_at is not None:
        raise ValidationError("This invitation has already been used.")
    if invitation.study.status not in (Study.Status.DRAFT, Study.Status.OPEN):
        raise ValidationError("This study no longer takes raters.")
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: AbstractBaseUser) -> Study:
    """Make `user` a rater of the invitation's study; each link works once."""
    invitation = Invitation.objects.select_for_update().filter(token=token).first()
    if invitation is None:
        raise ValidationError("This invitation link is not valid.")
    if invitation.accepted_at is not None:
        if invitation.accepted_by_id == user.pk:
            return invitation.study
        raise ValidationError("This invitation has already been used.")
    study_add_raters(study=invitation.study, users=[user])
    invitation.accepted_by, invitation.accepted_at = user, timezone.now()
    invitation.save(update_fields=["accepted_by", "accepted_at"])
    return invitation.study


@transaction.atomic
def api_token_rotate(*, user: AbstractBaseUser) -> Token:
    """Replace the user's API token: the old one stops working at once."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


# --- importing cases and outputs --------------------------------------------------------------


@dataclass(frozen=True)
class ImportSummary:
    cases_created: int
    sources_created: int
    outputs_created: int
    unchanged: int


def study_import_file(*, study: Study, filename: str, content: bytes) -> ImportSummary:
    """Parse and write a whole file, or nothing. Raises ImportRejected naming every problem."""
    rows = parse_study_file(filename, content)
    with transaction.atomic():
        # Lock the study row so two uploads cannot interleave their writes.
        study = Study.objects.select_for_update().get(pk=study.pk)
        if not study.accepts_imports:
            raise ValidationError("This study is no longer a draft; its cases are fixed.")
        importer = _RowWriter(study, PurePath(filename).name)
        importer.write_all(rows)
        if importer.problems:
            # Raising inside the atomic block undoes everything written before the problem.
            raise ImportRejected(importer.problems[:MAX_PROBLEMS])
        return ImportSummary(**importer.counts)


class _RowWriter:
    """Checks parsed rows against what the study already holds, then writes them in bulk.

    Everything is planned in memory first and nothing is written if any row has a problem; the
    writes are a few batched INSERTs rather than queries per row (see bench/import_speed.py).
    """

    BATCH = 2000

    def __init__(self, study: Study, filename: str) -> None:
        self.study, self.filename = study, filename
        self.cases = {
            c.external_id: c
            for c in study.cases.only(
                "pk", "external_id", "input_text", "reference", "metadata", "criteria"
            )
        }
        self.sources = {s.label: s for s in study.sources.all()}
        self.outputs = {
            (case_id, label): text
            for case_id, label, text in Output.objects.filter(case__study=study).values_list(
                "case__external_id", "source__label", "text"
            )
        }
        self.problems: list[Problem] = []
        self.counts = dict.fromkeys(
            ("cases_created", "sources_created", "outputs_created", "unchanged"), 0
        )
        self.new_cases: list[Case] = []
        self.new_sources: list[Source] = []
        self.new_outputs: list[tuple[str, str, str]] = []

    def problem(self, row: ImportRow, field: str, message: str) -> None:
        self.problems.append(Problem(self.filename, row.row, field, message))

    def write_all(self, rows: list[ImportRow]) -> None:
        for row in rows:
            self.plan(row)
        if self.problems:
            return
        Case.objects.bulk_create(self.new_cases, batch_size=self.BATCH)
        Source.objects.bulk_create(self.new_sources, batch_size=self.BATCH)
        outputs = [
            (self.cases[case_id].pk, self.sources[label].pk, text)
            for case_id, label, text in self.new_outputs
        ]
        _outputs_insert(outputs, batch=self.BATCH)

    def plan(self, row: ImportRow) -> None:
        case = self.cases.get(row.case_id)
        if case is None:
            case = self.cases[row.case_id] = Case(
                study=self.study,
                external_id=row.case_id,
                input_text=row.input,
                reference=row.reference,
                metadata=row.metadata,
                criteria=row.criteria,
            )
            self.new_cases.append(case)
            self.counts["cases_created"] += 1
        elif case.pk is None:
            # Planned from an earlier row of this file, which may not have given these.
            case.reference = case.reference or row.reference
            case.metadata = case.metadata or row.metadata
            case.criteria = case.criteria or row.criteria
        else:
            stored = {"input": case.input_text, "reference": case.reference}
            stored.update(metadata=case.metadata, criteria=case.criteria)
            given = {"input": row.input, "reference": row.reference, "metadata": row.metadata}
            given["criteria"] = row.criteria
            changed = [c for c in stored if (given[c] or c == "input") and stored[c] != given[c]]
            if changed:
                message = f"differs from the {changed[0]} stored for case {row.case_id!r}"
                self.problem(row, changed[0], message)
                return
        if row.source and self.source_for(row) is not None:
            self.plan_output(row)

    def source_for(self, row: ImportRow) -> Source | None:
        source = self.sources.get(row.source)
        if source is None:
            source = self.sources[row.source] = Source(
                study=self.study, label=row.source, kind=row.source_kind
            )
            self.new_sources.append(source)
            self.counts["sources_created"] += 1
        elif source.kind != row.source_kind:
            self.problem(row, "source_kind", f"source {row.source!r} is already a {source.kind}")
            return None
        return source

    def plan_output(self, row: ImportRow) -> None:
        stored = self.outputs.get((row.case_id, row.source))
        if stored is None:
            self.new_outputs.append((row.case_id, row.source, row.output))
            self.counts["outputs_created"] += 1
        elif stored == row.output:
            self.counts["unchanged"] += 1
        else:
            self.problem(row, "output", "this case already has a different output from this source")


def _outputs_insert(rows: list[tuple[int, int, str]], *, batch: int) -> None:
    """Insert (case id, source id, text) rows. On PostgreSQL through COPY, which moves tens of
    megabytes of text about twice as fast as batched INSERTs; elsewhere with bulk_create."""
    if connection.vendor != "postgresql":
        Output.objects.bulk_create(
            (Output(case_id=case, source_id=source, text=text) for case, source, text in rows),
            batch_size=batch,
        )
        return
    table = Output._meta.db_table
    now = timezone.now()
    with connection.cursor() as cursor:
        statement = f"COPY {table} (case_id, source_id, text, created_at) FROM STDIN"
        with cursor.cursor.copy(statement) as copy:
            for case, source, text in rows:
                copy.write_row((case, source, text, now))


# --- sources and generation -------------------------------------------------------------------


def source_create(*, study: Study, label: str, kind: str = Source.Kind.MODEL, **endpoint) -> Source:
    """Add a source; with endpoint fields (Source.ENDPOINT_FIELDS), a model the worker calls."""
    if not study.accepts_imports:
        raise ValidationError("Sources can only be added while the study is a draft.")
    unknown = set(endpoint) - set(Source.ENDPOINT_FIELDS)
    if unknown:
        raise TypeError(f"unknown endpoint fields: {sorted(unknown)}")
    source = Source(study=study, label=label, kind=kind, **endpoint)
    source.full_clean()
    source.save()
    return source


def task_run_create(
    *, study: Study, kind: str, user: AbstractBaseUser | None, source: Source | None = None
) -> TaskRun:
    """Record a job and queue its Celery task once the record is committed."""
    from annotation import tasks  # tasks import services; import here to avoid a cycle

    task = {
        TaskRun.Kind.FETCH_OUTPUTS: tasks.fetch_outputs,
        TaskRun.Kind.COMPUTE_AGREEMENT: tasks.compute_agreement,
    }[kind]
    with transaction.atomic():
        if kind == TaskRun.Kind.FETCH_OUTPUTS:
            _check_fetch_allowed(study, source)
        run = TaskRun.objects.create(study=study, kind=kind, created_by=user, source=source)
        transaction.on_commit(lambda: _send(run, task))
    return run


def _check_fetch_allowed(study: Study, source: Source) -> None:
    if not study.accepts_imports:
        raise ValidationError("Outputs can only be fetched while the study is a draft.")
    # Lock the source so two clicks cannot both start paying for the same generations.
    Source.objects.select_for_update().get(pk=source.pk)
    if _live_runs().filter(source=source).exists():
        raise ValidationError(f"Outputs for {source.label} are already being fetched.")


def _live_runs():
    fresh = timezone.now() - timedelta(seconds=settings.TASK_RUN_LEASE_SECONDS)
    return TaskRun.objects.filter(
        Q(status=TaskRun.Status.QUEUED, created_at__gte=fresh)
        | Q(status=TaskRun.Status.RUNNING, heartbeat_at__gte=fresh)
    )


def _send(run: TaskRun, task) -> None:
    try:
        task.delay(run.pk)
    except Exception as exc:  # the broker is unreachable: say so rather than sit "queued"
        logger.exception("could not queue task run %s", run.pk)
        task_run_finish(run=run, ok=False, message=f"Could not queue the task ({exc}).")


def task_run_claim(*, run_id: int) -> TaskRun | None:
    """Mark a run as running, or None if it is finished or another worker holds it.

    A run whose worker died (no heartbeat within the lease) can be claimed again: that is what
    a redelivered message after a crash needs, and both tasks are safe to repeat.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.TASK_RUN_LEASE_SECONDS)
    claimable = Q(status=TaskRun.Status.QUEUED) | Q(
        status=TaskRun.Status.RUNNING, heartbeat_at__lt=stale
    )
    claimed = TaskRun.objects.filter(claimable, pk=run_id).update(
        status=TaskRun.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    return TaskRun.objects.get(pk=run_id) if claimed else None


def task_run_progress(*, run: TaskRun, done: int, total: int | None = None) -> None:
    run.done = done
    run.heartbeat_at = timezone.now()
    fields = ["done", "heartbeat_at"]
    if total is not None:
        run.total = total
        fields.append("total")
    run.save(update_fields=fields)


def task_run_finish(*, run: TaskRun, ok: bool, message: str = "") -> None:
    run.status = TaskRun.Status.SUCCEEDED if ok else TaskRun.Status.FAILED
    run.message = message
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "message", "finished_at"])


def outputs_fetch_missing(*, run: TaskRun) -> None:
    """Generate an output for every case that has none from the run's source."""
    source = run.source
    if source is None or not source.can_generate:
        task_run_finish(run=run, ok=False, message="The source has no model endpoint configured.")
        return
    if not source.study.accepts_imports:
        task_run_finish(run=run, ok=False, message="The study was opened; its outputs are fixed.")
        return
    endpoint = _endpoint_for(source)
    missing = list(Case.objects.filter(study=source.study).exclude(outputs__source=source))
    task_run_progress(run=run, done=0, total=len(missing))
    session = llm.make_session(
        max_retries=settings.LLM_MAX_RETRIES, backoff_factor=settings.LLM_BACKOFF_FACTOR
    )
    failures = 0
    with session:
        for done, case in enumerate(missing, start=1):
            completion = llm.complete(
                session, endpoint, case.input_text, timeout=settings.LLM_REQUEST_TIMEOUT
            )
            if not output_record_generation(source=source, case=case, completion=completion):
                failures += 1
            task_run_progress(run=run, done=done)
    generated = len(missing) - failures
    message = f"{generated} of {len(missing)} outputs generated"
    if failures:
        message += f"; {failures} failed (see the generation log; run again to retry them)"
    task_run_finish(run=run, ok=failures == 0, message=message)


def _endpoint_for(source: Source) -> llm.Endpoint:
    return llm.Endpoint(
        base_url=source.base_url,
        model=source.model_name,
        temperature=source.temperature,
        max_tokens=source.max_tokens,
        system_prompt=source.system_prompt,
        api_key=os.environ.get(source.api_key_env, "") if source.api_key_env else "",
    )


def output_record_generation(*, source: Source, case: Case, completion: llm.Completion) -> bool:
    """Store the call and, if it produced text, the output. False when no output was stored."""
    with transaction.atomic():
        generation = Generation.objects.create(
            source=source,
            case=case,
            outcome=Generation.Outcome.OK if completion.text else Generation.Outcome.FAILED,
            request=completion.request,
            endpoint=completion.url,
            http_status=completion.http_status,
            response_body=completion.response_body,
            error=completion.error,
            retries=completion.retries,
            model_version=completion.model_version,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency_ms=completion.latency_ms,
            started_at=completion.started_at,
            finished_at=completion.finished_at,
        )
    if completion.text is None:
        return False
    try:
        with transaction.atomic():
            Output.objects.create(
                case=case, source=source, text=completion.text, generation=generation
            )
    except IntegrityError:
        # A duplicate delivery of the task got there first; its output stands, ours is logged.
        return True
    return True


# --- opening a study: items and the assignment manifest ---------------------------------------


@transaction.atomic
def study_open(*, study: Study) -> int:
    """Freeze the study's outputs into items and store every rater's seeded order."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    raters = list(study.memberships.filter(role=Membership.Role.RATER).select_related("user"))
    _check_can_open(study, len(raters))
    # The design is keyed on what stays the same in any copy of the study (case id, source label,
    # rater pseudonym), so the same file, raters and seed give the same manifest anywhere.
    items = {_item_key(item): item for item in _items_for(study)}
    if not items:
        raise ValidationError("No case has two outputs to compare.")
    Item.objects.bulk_create(items.values())
    users = {m.pseudonym: m.user for m in raters}
    manifest = design.assign(
        items=[design.DesignItem(key, _sources_of(item)) for key, item in items.items()],
        raters=list(users),
        k=study.raters_per_item,
        seed=study.seed,
    )
    Assignment.objects.bulk_create(
        Assignment(
            study=study,
            item=items[p.item],
            rater=users[p.rater],
            position=p.position,
            flipped=bool(p.order) and p.order != _sources_of(items[p.item]),
        )
        for p in manifest.placements
    )
    study.status = Study.Status.OPEN
    study.opened_at = timezone.now()
    study.manifest_hash = manifest.digest
    study.save(update_fields=["status", "opened_at", "manifest_hash"])
    return len(manifest.placements)


def _items_for(study: Study) -> list[Item]:
    """One item per output, or per pair of a case's outputs (sources sorted by label)."""
    outputs = Output.objects.filter(case__study=study).select_related("case", "source")
    if study.design == Study.Design.ABSOLUTE:
        return [Item(study=study, output=o) for o in outputs]
    by_case: dict[int, list[Output]] = {}
    for output in outputs:
        by_case.setdefault(output.case_id, []).append(output)
    items = []
    for case_outputs in by_case.values():
        ordered = sorted(case_outputs, key=lambda o: o.source.label)
        for first, second in itertools.combinations(ordered, 2):
            items.append(Item(study=study, output=first, output_b=second))
    return items


def _sources_of(item: Item) -> tuple[str, ...]:
    if item.output_b is None:
        return ()
    return (item.output.source.label, item.output_b.source.label)


def study_lock(*, study: Study) -> None:
    """Open -> locked: no answer changes any more; exports and statistics stay available."""
    _study_move(study, Study.Status.OPEN, Study.Status.LOCKED)


def study_archive(*, study: Study) -> None:
    """Locked -> archived: kept for the record, out of everyone's way."""
    _study_move(study, Study.Status.LOCKED, Study.Status.ARCHIVED)


def _study_move(study: Study, source: str, target: str) -> None:
    moved = Study.objects.filter(pk=study.pk, status=source).update(status=target)
    if not moved:
        names = dict(Study.Status.choices)
        raise ValidationError(f"Only a study that is {names[source].lower()} can be {target}.")
    study.refresh_from_db()


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


# --- rubric ------------------------------------------------------------------------------------

RUBRIC_TEMPLATES_DIR = Path(__file__).resolve().parent / "rubric_templates"


def rubric_templates() -> dict[str, rubric.Template]:
    """The built-in rubric templates by file name (medpalm, medflamingo, harm, ...)."""
    found = {}
    for path in sorted(RUBRIC_TEMPLATES_DIR.glob("*.yaml")):
        found[path.stem] = rubric.parse_template(path.name, yaml.safe_load(path.read_text()))
    return found


@transaction.atomic
def question_add(*, study: Study, draft: rubric.QuestionDraft) -> Question:
    """Add one question to a draft study, after the checks `Question.clean` makes."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.status != Study.Status.DRAFT:
        raise ValidationError("Questions can only change while the study is a draft.")
    if study.questions.filter(key=draft.key).exists():
        raise ValidationError(f"The study already has a question {draft.key!r}.")
    last = study.questions.aggregate(m=models.Max("order"))["m"]
    if draft.kind == rubric.PAIRWISE and study.design != Study.Design.PAIRWISE:
        raise ValidationError("A pairwise question needs a pairwise study (outputs shown as A/B).")
    if draft.kind in (rubric.CRITERIA, rubric.SPAN) and study.design != Study.Design.ABSOLUTE:
        raise ValidationError(
            "Per-case criteria and span marking judge one output at a time: an absolute study."
        )
    question = Question(study=study, order=(last or 0) + 1, **_draft_fields(draft))
    question.full_clean()
    question.save()
    return question


def _draft_fields(draft: rubric.QuestionDraft) -> dict:
    fields = dataclasses.asdict(draft)
    fields["scale"] = list(draft.scale)
    return fields


@transaction.atomic
def questions_add_template(*, study: Study, name: str) -> list[Question]:
    """All questions of a built-in template, or none if any key is already taken."""
    template = rubric_templates().get(name)
    if template is None:
        raise ValidationError(f"No rubric template {name!r}.")
    return [question_add(study=study, draft=draft) for draft in template.questions]


def question_remove(*, study: Study, key: str) -> None:
    if study.status != Study.Status.DRAFT:
        raise ValidationError("Questions can only change while the study is a draft.")
    if study.questions.count() <= 1:
        raise ValidationError("A study needs at least one question.")
    study.questions.filter(key=key).delete()


# --- rating -----------------------------------------------------------------------------------


def question_spec_for(*, question: Question, output: Output) -> rubric.QuestionSpec:
    """A question as asked about one output: per-case criteria come from its case, and spans
    must lie within its text."""
    spec = question.spec
    if question.kind == Question.Kind.CRITERIA:
        return dataclasses.replace(spec, scale=tuple(output.case.criteria))
    if question.kind == Question.Kind.SPAN:
        return dataclasses.replace(spec, maximum=float(len(output.text)))
    return spec


def _assignment_locked(assignment: Assignment) -> Assignment:
    """The assignment's row, locked, with a fresh read of its study's status: refused if the
    study is no longer open, or if the item has since moved to another rater."""
    locked = Assignment.objects.select_for_update(of=("self",)).select_related(
        "study", "item__output__case"
    )
    current = locked.get(pk=assignment.pk)
    _check_open_for_rating(current.study)
    if current.rater_id != assignment.rater_id:
        raise ValidationError("This item has been given to another rater.")
    return current


def _check_open_for_rating(study: Study) -> None:
    if study.status == Study.Status.LOCKED:
        raise ValidationError("This study is locked: answers can no longer change.")
    if study.status != Study.Status.OPEN:
        raise ValidationError("This study is not open for rating.")


@transaction.atomic
def rating_save(*, assignment: Assignment, question: Question, answer: object) -> Rating:
    """Save one answer. Saving the same answer again changes nothing; a change is appended."""
    assignment = _assignment_locked(assignment)
    if question.study_id != assignment.study_id:
        raise ValidationError("The question belongs to another study.")
    spec = question_spec_for(question=question, output=assignment.item.output)
    try:
        answer = rubric.parse_answer(spec, answer)
    except rubric.AnswerError as exc:
        raise ValidationError(str(exc)) from None
    value = rubric.numeric_code(spec, answer)
    if question.kind == Question.Kind.PAIRWISE and assignment.flipped and value is not None:
        # Stored as shown; analysed in the pair's canonical order ("first source better" > 0).
        value = -value
    rating, created = Rating.objects.select_for_update().get_or_create(
        assignment=assignment, question=question, defaults={"answer": answer, "value": value}
    )
    if not created and rating.answer == answer:
        return rating
    if not created:
        rating.answer, rating.value = answer, value
        rating.save(update_fields=["answer", "value", "updated_at"])
    RatingRevision.objects.create(rating=rating, answer=answer, value=value)
    return rating


# The longest stretch one report of time on task may add: a tab left open overnight is not work.
TIME_ON_TASK_REPORT_MAX_MS = 10 * 60 * 1000


@transaction.atomic
def assignment_submit(*, assignment: Assignment) -> Assignment:
    """Mark an item done once every required question has an answer. Submitting again changes
    nothing; answers can still be revised (and are kept in history) until the study locks."""
    assignment = _assignment_locked(assignment)
    answered = {r.question_id for r in assignment.ratings.all() if not rubric.is_empty(r.answer)}
    missing = [
        q.prompt for q in assignment.study.questions.filter(required=True) if q.pk not in answered
    ]
    if missing:
        raise ValidationError(f"Still to answer: {'; '.join(missing)}")
    # Conditional: of two submits racing, one sets the time and the other changes nothing.
    Assignment.objects.filter(pk=assignment.pk, submitted_at=None).update(
        submitted_at=timezone.now()
    )
    assignment.refresh_from_db()
    return assignment


def assignment_add_time(*, assignment: Assignment, elapsed_ms: int) -> None:
    """Add what the browser measured since its last report (capped, never negative), while the
    study is open."""
    elapsed = max(0, min(int(elapsed_ms), TIME_ON_TASK_REPORT_MAX_MS))
    if elapsed:
        Assignment.objects.filter(pk=assignment.pk, study__status=Study.Status.OPEN).update(
            time_on_task_ms=models.F("time_on_task_ms") + elapsed
        )


def assignment_mark_opened(*, assignment: Assignment) -> None:
    Assignment.objects.filter(pk=assignment.pk, first_opened_at=None).update(
        first_opened_at=timezone.now()
    )


# --- statistics -------------------------------------------------------------------------------


def agreement_compute(*, run: TaskRun) -> None:
    study = run.study
    # Free text and multiple choice have no numeric codes, so no agreement coefficient.
    questions = [q for q in study.questions.all() if q.has_statistics]
    task_run_progress(run=run, done=0, total=len(questions))
    messages = []
    for done, question in enumerate(questions, start=1):
        result = _alpha_for_question(study, question)
        messages.append(f"{question.key}: {_describe(result)}")
        task_run_progress(run=run, done=done)
    task_run_finish(run=run, ok=True, message="; ".join(messages))


def _alpha_for_question(study: Study, question: Question) -> Result:
    pseudonyms = dict(
        study.memberships.filter(role=Membership.Role.RATER).values_list("user_id", "pseudonym")
    )
    rows = sorted(
        (case_id, source, second or "", pseudonyms[rater_id], value)
        for case_id, source, second, rater_id, value in Rating.objects.filter(
            question=question, assignment__study=study, value__isnull=False
        ).values_list(
            "assignment__item__output__case__external_id",
            "assignment__item__output__source__label",
            "assignment__item__output_b__source__label",
            "assignment__rater_id",
            "value",
        )
    )
    # One unit per item: an output, or a pair in canonical order (values already canonical).
    observations = [
        agreement.Observation(f"{case_id}\x1f{source}\x1f{second}", rater, value)
        for case_id, source, second, rater, value in rows
    ]
    # "Not applicable" has no code and is left out above, never coded as a value.
    domain = rubric.value_domain(question.spec)
    bootstrap = [settings.AGREEMENT_BOOTSTRAP_RESAMPLES, study.seed]
    alpha = agreement.krippendorff_alpha(
        observations,
        level=question.level,
        value_domain=domain,
        resamples=bootstrap[0],
        seed=bootstrap[1],
    )
    # Hashed in terms that mean the same in any copy of the study, so equal inputs match.
    inputs_hash = hashlib.sha256(json.dumps([rows, question.level, domain, bootstrap]).encode())
    result, _ = Result.objects.update_or_create(
        study=study,
        question=question,
        statistic="krippendorff_alpha",
        defaults={
            "value": alpha.alpha,
            "n_units": alpha.n_units,
            "n_raters": alpha.n_raters,
            "n_ratings": alpha.n_ratings,
            "detail": {
                "level": alpha.level,
                "reason": alpha.reason,
                "ci": list(alpha.ci) if alpha.ci else None,
                "bootstrap": {
                    "method": "percentile, resampling units",
                    "resamples": alpha.resamples,
                    "resamples_used": alpha.resamples_used,
                    "seed": alpha.seed,
                },
            },
            "inputs_hash": inputs_hash.hexdigest(),
            "computed_at": timezone.now(),
        },
    )
    return result


def _describe(result: Result) -> str:
    if result.value is None:
        return f"alpha undefined ({result.detail.get('reason')})"
    ci = result.detail.get("ci")
    interval = f" (95% CI {ci[0]:.3f} to {ci[1]:.3f})" if ci else ""
    return f"alpha = {result.value:.3f}{interval} over {result.n_units} units"
