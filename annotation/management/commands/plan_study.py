"""`manage.py plan_study PILOT.csv --fom auc --difference 0.05`: `python -m annotation.core.stats
plan` under Django's command line. Like `agreement` it reads no database and signs nothing, so
the settings let it run without a SECRET_KEY (evalapp/settings.py)."""

import json as _json

from django.core.management.base import BaseCommand, CommandError

from annotation.core.stats.planning_cli import (
    PLAN_HELP,
    PlanError,
    add_plan_arguments,
    plan_report,
    plan_table,
)


class Command(BaseCommand):
    help = PLAN_HELP
    requires_system_checks = []  # a file in, a table out: the project's checks say nothing here

    def add_arguments(self, parser) -> None:
        add_plan_arguments(parser)

    def handle(self, *args, file, json: bool, **options) -> None:
        try:
            report = plan_report(file, **options)
        except PlanError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(_json.dumps(report, indent=2) if json else plan_table(report))
