from django.core.management.base import BaseCommand

from annotation.demo import load_demo


class Command(BaseCommand):
    help = "Load the demo study and its users (does nothing if they already exist)."

    def handle(self, *args, **options) -> None:
        summary = load_demo()
        verb = "Loaded" if summary.created else "Kept the existing"
        self.stdout.write(self.style.SUCCESS(f"{verb} demo study: {summary.study.title}"))
        self.stdout.write("Demo logins (user / password):")
        for username, password in summary.logins:
            self.stdout.write(f"  {username:8} / {password}")
