from django.core.management.base import BaseCommand

from annotation import services


class Command(BaseCommand):
    help = (
        "Recount each rating's revisions (ratings.csv's `revisions` column) from the stored "
        "revisions, changing only the ratings whose count differs. Run it once after upgrading "
        "past migration 0053, when the new web and worker processes are up: answers the old "
        "processes saved between the migration and their restart were not counted. Safe to "
        "run again at any time."
    )

    def handle(self, *args, **options) -> None:
        changed = services.revision_counts_recount()
        self.stdout.write(f"Ratings recounted: {changed}")
