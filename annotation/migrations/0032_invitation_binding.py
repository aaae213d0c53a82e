# Placeholder in the migration chain; filled in by the change that owns it.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("annotation", "0031_call_errors_generic")]

    operations = []
