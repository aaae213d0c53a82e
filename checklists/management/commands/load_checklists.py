from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from checklists import services
from checklists.definition_files import DefinitionError


class Command(BaseCommand):
    help = (
        "Load checklist definition files (YAML or JSON), all or nothing. Without arguments, "
        "loads the files shipped in checklists/definitions/. Unchanged files are left alone; a "
        "changed file becomes a new revision."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="*", type=Path, help="Definition files to load.")

    def handle(self, *args, files: list[Path], **options) -> None:
        paths = files or services.definition_files_shipped()
        try:
            outcomes = services.checklists_load(paths=paths)
        except DefinitionError as exc:
            raise CommandError(f"Nothing was loaded. {exc}") from None
        for outcome in outcomes:
            state = "loaded as" if outcome.created else "unchanged at"
            self.stdout.write(
                f"{outcome.filename}: {outcome.slug} {state} revision {outcome.revision}"
            )
