"""Assignments stored from a manifest's placements, as plain rows (through COPY on
PostgreSQL)."""

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator

from django.db import connection, transaction

from annotation.core import design
from annotation.models import Assignment, Item, PendingAssignments, Study
from annotation.services.studies.items import _sources_of
from annotation.services.studies.tokens import new_tokens
from annotation.services.task_runs import Progress


def assignments_create(
    study: Study,
    placements,
    *,
    items: dict[str, Item],
    users: dict,
    earlier=(),
    progress: Progress | None = None,
) -> int:
    """Store placements as assignments; a repeat or re-read points at the rater's first sight
    of its item
    (among those created here, or the `earlier` assignments already stored). Rows are written
    as plain tuples, not model instances: a study of 50,000 outputs and 20 raters has a million
    (on PostgreSQL through COPY; see _assignments_insert). `progress.done` counts the rows
    written."""
    # An item's sources once, not once for each of its (up to 20) placements.
    canonical = {key: _sources_of(items[key]) for key in {p.item for p in placements}}
    firsts = [p for p in placements if p.kind not in design.SECOND_SIGHTS]
    repeats = [p for p in placements if p.kind in design.SECOND_SIGHTS]
    _assignments_insert(
        _counted(_assignment_rows(study, firsts, items, users, canonical), progress)
    )
    if repeats:
        first = _first_sights(study, repeats, items, users, earlier)
        rows = _assignment_rows(study, repeats, items, users, canonical, first)
        _assignments_insert(_counted(rows, progress))
    return len(placements)


def assignments_defer(study: Study, placements, *, items: dict[str, Item], users: dict) -> int:
    """Store each rater's placements as a PendingAssignments row, resolved to what their
    assignment rows hold but the token and the repeat's original (both made as the rows are
    written: pending_assignments_write). A million placements take a second or two this way
    against tens of seconds as rows checked against their study, item and rater."""
    canonical = {key: _sources_of(items[key]) for key in {p.item for p in placements}}
    is_set = study.shows_sets
    item_ids = {key: item.pk for key, item in items.items()}
    lists: dict[str, list[list]] = defaultdict(list)
    for p in placements:
        flipped, order = _shown(p.order, canonical[p.item], is_set=is_set)
        lists[p.rater].append([item_ids[p.item], p.position, p.kind, flipped, order, p.session])
    PendingAssignments.objects.bulk_create(
        PendingAssignments(
            study=study,
            rater=users[name],
            placements=len(rows),
            rows=PendingAssignments.pack(rows),
        )
        for name, rows in lists.items()
    )
    return len(placements)


def pending_assignments_write(
    *, study: Study, rater_id: int, progress: Progress | None = None
) -> int:
    """Write the rater's pending assignments (assignments_defer) as rows, in a transaction of
    their own that also removes the pending row; 0 if they are written already. Whoever comes
    second (the opening's job, the rater's first page) waits for the first and writes nothing."""
    with transaction.atomic():
        pending = (
            PendingAssignments.objects.select_for_update()
            .filter(study=study, rater_id=rater_id)
            .first()
        )
        if pending is None:
            return 0
        rows = pending.unpack()
        firsts = [row for row in rows if row[2] not in design.SECOND_SIGHTS]
        repeats = [row for row in rows if row[2] in design.SECOND_SIGHTS]
        _assignments_insert(_counted(_pending_rows(study.pk, rater_id, firsts), progress))
        if repeats:
            first = dict(
                Assignment.objects.filter(
                    study=study,
                    rater_id=rater_id,
                    kind=Assignment.Kind.STUDY,
                    item_id__in={row[0] for row in repeats},
                ).values_list("item_id", "pk")
            )
            rows_of_repeats = _pending_rows(study.pk, rater_id, repeats, first)
            _assignments_insert(_counted(rows_of_repeats, progress))
        pending.delete()
    return len(rows)


def _pending_rows(
    study_id: int, rater_id: int, rows: list[list], first: dict[int, int] | None = None
) -> Iterator[tuple]:
    tokens = new_tokens(len(rows))
    for (item, position, kind, flipped, order, session), token in zip(rows, tokens, strict=True):
        repeat_of = first[item] if first is not None else None  # a repeat has its original
        yield (study_id, item, rater_id, position, kind, flipped, order, token, repeat_of, session)


def _counted(rows: Iterator[tuple], progress: Progress | None) -> Iterator[tuple]:
    """The rows, each counted in `progress` as it is taken to be written."""
    if progress is None:
        yield from rows
        return
    for row in rows:
        yield row
        progress.done += 1


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


def _copies() -> bool:
    """Whether the database takes COPY (PostgreSQL through psycopg 3)."""
    return connection.vendor == "postgresql"


def _shown(order: tuple[str, ...], canonical: tuple[str, ...], *, is_set: bool) -> tuple:
    """The assignment's (flipped, order), which record the order a placement shows its
    sources in."""
    if is_set:  # one output has no order to record
        return (False, [canonical.index(label) for label in order] if order else [])
    return (bool(order) and order != canonical, [])
