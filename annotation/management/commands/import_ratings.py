from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from annotation.core.importing import ImportRejected
from annotation.models import Study
from annotation.services.audit import acting_from_command
from annotation.services.external_ratings import study_import_ratings


class Command(BaseCommand):
    help = (
        "Import ratings collected elsewhere (long CSV: rater, case_id, question, value, and "
        "source, or source_a and source_b for pairwise studies) into a draft study, which is "
        "then locked. All or nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("study", help="The study's token (from its dashboard address).")
        parser.add_argument("file", type=Path)

    def handle(self, *args, study: str, file: Path, **options) -> None:
        target = Study.objects.filter(token=study).first()
        if target is None:
            raise CommandError(f"No study has the token {study!r}.")
        try:
            with acting_from_command():
                count = study_import_ratings(
                    study=target, filename=file.name, content=file.read_bytes()
                )
        except ImportRejected as exc:
            problems = "\n".join(map(str, exc.problems))
            raise CommandError(f"Nothing was imported.\n{problems}") from None
        except (OSError, ValidationError) as exc:
            raise CommandError(f"Nothing was imported. {exc}") from None
        self.stdout.write(f"Imported {count} ratings into {target.title!r}; the study is locked.")
