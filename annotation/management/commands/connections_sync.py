from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from annotation import services


class Command(BaseCommand):
    help = (
        "Create or update the model connections listed in EVALAPP_CONNECTIONS_FILE (or the file "
        "given); connections not listed are kept."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", nargs="?", help="JSON or YAML file (default: the setting)")

    def handle(self, *args, path: str | None = None, **options) -> None:
        path = path or settings.EVALAPP_CONNECTIONS_FILE
        if not path:
            # `make run` calls this on every start; most local set-ups have no file.
            self.stdout.write("No connections file (EVALAPP_CONNECTIONS_FILE); nothing to do.")
            return
        try:
            with services.acting_from_command():
                synced = services.connections_sync(path=Path(path))
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        names = ", ".join(c.name for c in synced) or "none"
        self.stdout.write(self.style.SUCCESS(f"Connections from {path}: {names}"))
