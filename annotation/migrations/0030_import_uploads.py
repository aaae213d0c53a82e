# Placeholder in the migration chain; filled in by the change that owns it.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("annotation", "0029_analysis_reopening")]

    operations = []
