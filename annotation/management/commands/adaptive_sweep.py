"""`manage.py adaptive_sweep [--study TOKEN]`: decide every item of the open adaptive studies
(or one) whose first k ratings are in but whose decision was lost, as each recomputation of the
statistics also does. Safe to run at any time: an item is decided once."""

from django.core.management.base import BaseCommand, CommandError

from annotation import services
from annotation.models import Study


class Command(BaseCommand):
    help = "Decide adaptive extra raters for items whose check was lost."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--study", help="the study's token (default: every open study)")

    def handle(self, *args, study: str | None, **options) -> None:
        studies = Study.objects.filter(status=Study.Status.OPEN, adaptive__isnull=False)
        if study:
            studies = studies.filter(token=study)
            if not studies.exists():
                raise CommandError(f"No open adaptive study with token {study!r}.")
        for found in studies:
            with services.acting_from_command():
                decided = services.adaptive_sweep(study=found)
            self.stdout.write(f"{found.token}: {decided} item(s) decided")
