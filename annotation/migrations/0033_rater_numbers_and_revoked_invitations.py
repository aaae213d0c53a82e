from django.db import migrations, models


def number_raters(apps, schema_editor) -> None:
    """Each study's highest rater number so far, from the pseudonyms it gave ("R3": 3)."""
    Study = apps.get_model("annotation", "Study")
    Membership = apps.get_model("annotation", "Membership")
    highest: dict[int, int] = {}
    raters = Membership.objects.filter(role="rater").values_list("study_id", "pseudonym")
    for study_id, pseudonym in raters:
        if pseudonym[:1] == "R" and pseudonym[1:].isdigit():
            highest[study_id] = max(highest.get(study_id, 0), int(pseudonym[1:]))
    for study_id, number in highest.items():
        Study.objects.filter(pk=study_id).update(last_rater_number=number)


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0032_call_served_model_and_rate_limit_waits"),
    ]

    operations = [
        migrations.AddField(
            model_name="invitation",
            name="revoked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="study",
            name="last_rater_number",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(number_raters, migrations.RunPython.noop),
    ]
