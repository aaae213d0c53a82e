"""Each rating's count of revisions, stored (issue 22): what ratings.csv's `revisions` column
reads, counted once here for the ratings saved before it."""

from django.db import migrations, models

# Portable SQL (PostgreSQL and SQLite): one statement, however many ratings.
COUNTED = """
UPDATE annotation_rating SET revision_count = (
    SELECT count(*) FROM annotation_ratingrevision v WHERE v.rating_id = annotation_rating.id
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0052_task_run_counted_from"),
    ]

    operations = [
        migrations.AddField(
            model_name="rating",
            name="revision_count",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.RunSQL(COUNTED, reverse_sql=migrations.RunSQL.noop),
    ]
