"""Writing ratings collected elsewhere into a draft study, which then becomes a locked record
that evalapp's statistics and exports treat like any study run here.

A service module (it writes); parsing and validation are in `ratings_file`. Raters in the file
become accounts that cannot log in, named after the study, with the file's rater names as
their pseudonyms. Cases, sources and outputs the study lacks are created empty: such files
rarely carry the texts, and the statistics do not need them.
"""

from pathlib import PurePath

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotation.core import design, rubric
from annotation.core.importing import MAX_PROBLEMS, ImportRejected, Problem
from annotation.core.ratings_file import CASE_KINDS, RatingRow, parse_ratings_file
from annotation.models import (
    Assignment,
    Case,
    Item,
    Membership,
    Output,
    Question,
    Rating,
    RatingRevision,
    Source,
    Study,
)
from annotation.services.audit import audit_record
from annotation.services.rating import question_spec_for
from annotation.services.task_runs import statistics_recompute_final, study_for_change


@transaction.atomic
def study_import_ratings(*, study: Study, filename: str, content: bytes) -> int:
    """Import a finished study's ratings, all or nothing; returns how many were written."""
    study = study_for_change(study.pk)
    if study.status != Study.Status.DRAFT:
        # A locked study's statistics change only through a reopened analysis, which never
        # takes new ratings: an import makes a new study's record.
        raise ValidationError(
            "Ratings can only be imported into a draft study; a locked study's ratings stay "
            "as they are."
        )
    if study.memberships.filter(role=Membership.Role.RATER).exists():
        raise ValidationError("This study already has raters; import into a new draft study.")
    questions = {q.key: q for q in study.questions.all()}
    pairwise = study.design == Study.Design.PAIRWISE
    rows = parse_ratings_file(
        filename, content, questions={k: q.spec for k, q in questions.items()}, pairwise=pairwise
    )
    writer = _Writer(study, PurePath(filename).name)
    for row in rows:
        writer.add(row, questions[row.question])
    if writer.problems:
        # Raised inside the transaction: everything written for earlier rows is undone.
        raise ImportRejected(writer.problems[:MAX_PROBLEMS])
    writer.finish()
    # The study is locked now: this is its statistics' one computation, as for a study locked
    # after rating here (study_lock).
    statistics_recompute_final(study=study)
    # The import also locks the study and makes an account and a membership for each rater
    # named in the file: the entry says so (each account's own account.created entry names
    # it too).
    raters = [
        {"pseudonym": name, "username": user.get_username()}
        for name, user in sorted(writer.raters.items())
    ]
    details = {
        "file": PurePath(filename).name,
        "rows": len(rows),
        "status": {"old": Study.Status.DRAFT, "new": study.status},
        "raters_added": raters,
    }
    audit_record(action="import.ratings", study=study, details=details)
    return len(rows)


class _Writer:
    def __init__(self, study: Study, filename: str) -> None:
        self.study, self.filename = study, filename
        self.cases = {c.external_id: c for c in study.cases.all()}
        self.sources = {s.label: s for s in study.sources.all()}
        # A study that already holds cases (or sources) is the authority on them: an unknown
        # id in the file is a typo to report, not a new case to invent.
        self.cases_fixed, self.sources_fixed = bool(self.cases), bool(self.sources)
        self.problems: list[Problem] = []
        self.outputs = {
            (o.case_id, o.source_id): o for o in Output.objects.filter(case__study=study)
        }
        self.items: dict[tuple, Item] = {}
        self.raters: dict[str, object] = {}
        self.assignments: dict[tuple, Assignment] = {}

    def add(self, row: RatingRow, question: Question) -> None:
        if self.cases_fixed and row.case_id not in self.cases:
            self._problem(row, "case_id", f"the study has no case {row.case_id!r}")
        unknown = [s for s in row.shown if self.sources_fixed and s not in self.sources]
        for label in unknown:
            self._problem(row, "source", f"the study has no source {label!r}")
        if self.problems:
            return
        case = self._case(row.case_id)
        outputs = [self._output(case, self._source(label)) for label in row.shown]
        item = self._item(case, outputs)
        assignment = self._assignment(row, item)
        answer, spec = row.answer, question.spec
        if question.kind == Question.Kind.CORRECTION:
            answer = self._correction(row, outputs[0])
            if answer is None:
                return
        if question.kind in CASE_KINDS:
            spec = question_spec_for(question=question, output=outputs[0])
            answer = self._checked_against_case(row, spec)
            if answer is None:
                return
        value = rubric.numeric_code(spec, answer)
        if question.kind == Question.Kind.PAIRWISE and assignment.flipped and value is not None:
            value = -value
        rating = Rating.objects.create(
            assignment=assignment, question=question, answer=answer, value=value, revision_count=1
        )
        RatingRevision.objects.create(rating=rating, answer=answer, value=value)

    def _correction(self, row: RatingRow, output: Output) -> object:
        """A correction compared with the text it corrects, which the file does not carry:
        the study's own output, imported before the ratings."""
        if not isinstance(row.answer, dict):
            return row.answer  # "" : no correction
        if not output.text:
            self._problem(
                row,
                "value",
                "a correction needs the output's text: import the study's "
                "outputs before the corrections",
            )
            return None
        spec = rubric.QuestionSpec(kind=rubric.CORRECTION, original=output.text)
        return rubric.parse_answer(spec, row.answer["text"])

    def _checked_against_case(self, row: RatingRow, spec: rubric.QuestionSpec) -> object:
        """A criteria or omission answer checked against the case's own criteria or facts,
        which the study must hold before ratings of them; None after noting a problem."""
        if not spec.scale:
            what = "facts" if spec.kind == rubric.OMISSION else "criteria"
            self._problem(
                row,
                "case_id",
                f"case {row.case_id!r} has no {what}: import the study's cases with their "
                f"{what} before ratings of question {row.question!r}",
            )
            return None
        try:
            return rubric.parse_answer(spec, row.answer)
        except rubric.AnswerError as exc:
            self._problem(row, "value", str(exc))
            return None

    def _problem(self, row: RatingRow, field: str, message: str) -> None:
        self.problems.append(Problem(self.filename, row.row, field, message))

    def _case(self, external_id: str) -> Case:
        if external_id not in self.cases:
            self.cases[external_id] = Case.objects.create(
                study=self.study, external_id=external_id, input_text=""
            )
        return self.cases[external_id]

    def _source(self, label: str) -> Source:
        if label not in self.sources:
            self.sources[label] = Source.objects.create(study=self.study, label=label)
        return self.sources[label]

    def _output(self, case: Case, source: Source) -> Output:
        key = (case.pk, source.pk)
        if key not in self.outputs:
            self.outputs[key] = Output.objects.create(case=case, source=source, text="")
        return self.outputs[key]

    def _item(self, case: Case, outputs: list[Output]) -> Item:
        # A pair is stored in canonical order: sources sorted by label.
        ordered = sorted(outputs, key=lambda o: o.source.label)
        key = tuple(o.pk for o in ordered)
        if key not in self.items:
            second = ordered[1] if len(ordered) > 1 else None
            self.items[key] = Item.objects.create(
                study=self.study, output=ordered[0], output_b=second
            )
            self.items[key].canonical = tuple(o.source.label for o in ordered)
        return self.items[key]

    def _assignment(self, row: RatingRow, item: Item) -> Assignment:
        user = self._rater(row.rater)
        key = (row.rater, item.pk)
        flipped = len(row.shown) == 2 and row.shown != item.canonical
        if key not in self.assignments:
            position = 1 + sum(1 for r, _ in self.assignments if r == row.rater)
            self.assignments[key] = Assignment.objects.create(
                study=self.study,
                item=item,
                rater=user,
                position=position,
                flipped=flipped,
                submitted_at=timezone.now(),
            )
        return self.assignments[key]

    def _rater(self, name: str):
        if name not in self.raters:
            user = get_user_model().objects.create(
                username=f"{self.study.token}-{name}"[:150], is_active=False
            )
            user.set_unusable_password()
            user.save(update_fields=["password"])
            Membership.objects.create(
                study=self.study, user=user, role=Membership.Role.RATER, pseudonym=name
            )
            self.raters[name] = user
        return self.raters[name]

    def finish(self) -> None:
        """Store the manifest's digest and lock the study: a finished study's record."""
        placements = tuple(
            design.Placement(rater, _key(item), a.position, _order(item, a))
            for (rater, _), a in self.assignments.items()
            for item in [a.item]
        )
        manifest = design.Manifest(
            seed=self.study.seed, k=self.study.raters_per_item, placements=placements
        )
        self.study.manifest_hash = manifest.digest
        self.study.status = Study.Status.LOCKED
        self.study.opened_at = timezone.now()
        self.study.save(update_fields=["manifest_hash", "status", "opened_at"])


def _key(item: Item) -> str:
    return "\x1f".join([item.output.case.external_id, *item.canonical])


def _order(item: Item, assignment: Assignment) -> tuple[str, ...]:
    if len(item.canonical) < 2:
        return ()
    return item.canonical[::-1] if assignment.flipped else item.canonical
