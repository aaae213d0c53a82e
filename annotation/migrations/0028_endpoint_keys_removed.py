"""The key fields of sources and judges go, now that 0027 moved them to connections (a migration
of its own: PostgreSQL refuses to alter a table with the data migration's updates pending)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0027_connections"),
    ]

    operations = [
        migrations.RemoveField(model_name="judge", name="api_key_env"),
        migrations.RemoveField(model_name="judge", name="api_key_file"),
        migrations.RemoveField(model_name="source", name="api_key_env"),
        migrations.RemoveField(model_name="source", name="api_key_file"),
    ]
