"""`manage.py agreement FILE.csv`: `python -m annotation.core.stats agreement` under Django's
command line. It reads no database and signs nothing, so the settings let it run without a
SECRET_KEY (evalapp/settings.py), as the README's command line does on a fresh clone."""

import json

from django.core.management.base import BaseCommand, CommandError

from annotation.core.stats.cli import (
    AGREEMENT_HELP,
    UsageError,
    add_agreement_arguments,
    agreement_report,
)


class Command(BaseCommand):
    help = AGREEMENT_HELP
    requires_system_checks = []  # a file in, JSON out: the project's checks say nothing here

    def add_arguments(self, parser) -> None:
        add_agreement_arguments(parser)

    def handle(self, *args, file, level, categories, bootstrap, seed, **options) -> None:
        try:
            report = agreement_report(
                file, level=level, categories=categories, bootstrap=bootstrap, seed=seed
            )
        except UsageError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps(report, indent=2))
