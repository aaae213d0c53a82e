"""Big writes and deletes fit the database's limits: on PostgreSQL with server-side binding
(prepared statements) one statement takes at most 65,535 parameters."""

import pytest
from django.db import connection

from annotation import services
from annotation.models import Case, Study

pytestmark = pytest.mark.django_db

# More rows than one statement could name in a delete, and ten times more parameters than one
# insert could carry.
ROWS = 66_000


def test_a_study_bigger_than_one_statement_is_written_and_deleted_whole(study_admin):
    study = services.study_create(creator=study_admin, title="Big", question_prompt="Good?")
    Case.objects.bulk_create(
        Case(study=study, external_id=f"c{i}", input_text="Q") for i in range(ROWS)
    )
    assert Case.objects.filter(study=study).count() == ROWS
    study.delete()  # cascades to every case
    assert not Study.objects.filter(pk=study.pk).exists()
    assert not Case.objects.exists()


def test_batches_respect_the_parameter_limit_when_statements_are_prepared():
    options = connection.settings_dict["OPTIONS"]
    fields = [f for f in Case._meta.concrete_fields if not f.primary_key]
    size = connection.ops.bulk_batch_size(fields, [None] * ROWS)
    assert size * len(fields) <= 65_535 or not options.get("server_side_binding")
    assert 1 <= size <= ROWS
