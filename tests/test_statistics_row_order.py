"""A question's statistics do not depend on the order the database returns its ratings in: on
PostgreSQL a sequential scan may start where another one is, so the same rows come in another
order from one recomputation to the next, and sums in another order differ in their last bits.
The rows are put in one order first, so the same ratings store the same values, bit for bit."""

import random

import pytest

from annotation.models import Result
from annotation.services.statistics import rows
from tests.test_study_statistics import compute, rate_absolute

pytestmark = pytest.mark.django_db


def _stored_in_order(study, monkeypatch, seed: int) -> dict:
    read = rows._code_columns

    def shuffled(*args, **kwargs):
        columns = read(*args, **kwargs)
        order = list(range(len(columns[0])))
        random.Random(seed).shuffle(order)
        return [column[order] for column in columns]

    monkeypatch.setattr(rows, "_code_columns", shuffled)
    Result.objects.filter(study=study).delete()  # computed afresh, not kept as unchanged
    compute(study)
    return {
        (r.statistic, r.question_id, r.source, r.judge): (r.value, r.detail)
        for r in Result.objects.filter(study=study)
    }


def test_the_same_ratings_in_another_order_store_the_same_values_to_the_last_bit(
    open_study, monkeypatch
):
    rate_absolute(open_study, seed=11)
    first = _stored_in_order(open_study, monkeypatch, seed=1)
    second = _stored_in_order(open_study, monkeypatch, seed=2)
    assert any(key[0] == "krippendorff_alpha" for key in first)
    assert first == second
