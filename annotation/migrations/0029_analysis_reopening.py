# Placeholder in the migration chain; filled in by the change that owns it.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("annotation", "0028_endpoint_keys_removed")]

    operations = []
