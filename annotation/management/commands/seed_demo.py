from django.core.management.base import BaseCommand

from annotation.demo import load_demo
from checklists.demo import load_demo_report


class Command(BaseCommand):
    help = "Load the demo study, a demo checklist report and their users (idempotent)."

    def handle(self, *args, **options) -> None:
        summary = load_demo()
        for title in summary.added:
            self.stdout.write(self.style.SUCCESS(f"Loaded demo study: {title}"))
        if not summary.added:
            self.stdout.write(self.style.SUCCESS("Kept the existing demo studies"))
        lead = summary.study.created_by
        report = load_demo_report(lead=lead, study=summary.study)
        self.stdout.write(self.style.SUCCESS(f"Demo checklist report: {report.title}"))
        self.stdout.write("Demo logins (user / password):")
        for username, password in summary.logins:
            self.stdout.write(f"  {username:8} / {password}")
