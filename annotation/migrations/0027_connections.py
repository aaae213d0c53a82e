"""Keys move from sources and judges to operator-owned connections.

Each existing source or judge with a base URL gets a connection for its (base URL, key variable,
key file): named from the host (api-openai-com, then api-openai-com-2 for a second key on that
host), allowing the models used with it, so existing studies keep working. Study admins can then
no longer name a key: only a connection the operator (or staff in the admin) set up.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.utils.text import slugify

ENDPOINTS = ("source", "judge")


def _name(base_url: str, taken: set[str]) -> str:
    host = base_url.split("://", 1)[-1].split("/", 1)[0].split("@")[-1]
    stem = slugify(host.replace(".", "-").replace(":", "-"))[:90] or "endpoint"
    name, n = stem, 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}"
    taken.add(name)
    return name


def endpoints_to_connections(apps, schema_editor):
    Connection = apps.get_model("annotation", "Connection")
    rows = [
        row
        for model in ENDPOINTS
        for row in apps.get_model("annotation", model).objects.exclude(base_url="")
    ]
    groups: dict[tuple[str, str, str], list] = {}
    for row in rows:
        groups.setdefault((row.base_url, row.api_key_env, row.api_key_file), []).append(row)
    taken = set(Connection.objects.values_list("name", flat=True))
    for (base_url, key_env, key_file), members in sorted(groups.items()):
        connection = Connection.objects.create(
            name=_name(base_url, taken),
            base_url=base_url,
            allowed_models=sorted({row.model_name for row in members if row.model_name}),
            api_key_env=key_env,
            api_key_file=key_file,
        )
        for row in members:
            row.connection = connection
            row.save(update_fields=["connection"])


def connections_to_endpoints(apps, schema_editor):
    for model in ENDPOINTS:
        for row in apps.get_model("annotation", model).objects.exclude(connection=None):
            row.api_key_env = row.connection.api_key_env
            row.api_key_file = row.connection.api_key_file
            row.save(update_fields=["api_key_env", "api_key_file"])


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0026_span_criteria_empty_lists"),
    ]

    operations = [
        migrations.CreateModel(
            name="Connection",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.SlugField(max_length=100, unique=True)),
                (
                    "base_url",
                    models.URLField(help_text="OpenAI-compatible API root, e.g. https://host/v1"),
                ),
                (
                    "allowed_models",
                    models.JSONField(
                        default=list,
                        help_text="The model names study admins may choose (at least one).",
                    ),
                ),
                ("api_key_env", models.CharField(blank=True, max_length=100)),
                ("api_key_file", models.CharField(blank=True, max_length=100)),
                ("max_concurrency", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("requests_per_minute", models.PositiveIntegerField(blank=True, null=True)),
                ("prompt_price", models.FloatField(blank=True, null=True)),
                ("completion_price", models.FloatField(blank=True, null=True)),
            ],
            options={"ordering": ["name"]},
        ),
        migrations.AddField(
            model_name="judge",
            name="connection",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="annotation.connection",
            ),
        ),
        migrations.AddField(
            model_name="source",
            name="connection",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="annotation.connection",
            ),
        ),
        migrations.RunPython(endpoints_to_connections, connections_to_endpoints),
    ]
