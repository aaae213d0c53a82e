"""`manage.py mrmc STUDY.csv --fom auc`: `python -m annotation.core.stats mrmc` under Django's
command line. Like `agreement` it reads no database and signs nothing, so the settings let it
run without a SECRET_KEY (evalapp/settings.py)."""

import json as _json

from django.core.management.base import BaseCommand, CommandError

from annotation.core.stats.mrmc_cli import MRMC_HELP, add_mrmc_arguments, mrmc_report, mrmc_table
from annotation.core.stats.planning_cli import PlanError


class Command(BaseCommand):
    help = MRMC_HELP
    requires_system_checks = []  # a file in, a report out: the project's checks say nothing here

    def add_arguments(self, parser) -> None:
        add_mrmc_arguments(parser)

    def handle(self, *args, file, json: bool, **options) -> None:
        keep = ("fom", "covariance", "bootstrap", "seed", "level")
        try:
            report = mrmc_report(file, **{key: options[key] for key in keep})
        except PlanError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(_json.dumps(report, indent=2) if json else mrmc_table(report))
