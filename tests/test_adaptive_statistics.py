"""Adaptive studies' agreement: the primary figure on the regular ratings alone, the secondary
with the extras pooled in and labelled so; and the extras in the ratings export."""

import csv
import io

import pytest
from django.urls import reverse

from annotation import services
from annotation.models import Assignment, Result
from tests.test_adaptive import adaptive_study, regular
from tests.test_study_statistics import compute

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated(study_admin):
    """Three items rated on an interval scale: (1, 5), which disagrees and brings two extra
    raters who answer 3 and 3; (3, 3) and (4, 4), which do not."""
    study = adaptive_study(study_admin, level="interval")
    question = study.questions.get()
    items = list(study.items.order_by("pk")[:3])
    for item, answers in zip(items, [(1, 5), (3, 3), (4, 4)], strict=True):
        for assignment, answer in zip(regular(item), answers, strict=True):
            services.rating_save(assignment=assignment, question=question, answer=answer)
            services.assignment_submit(assignment=assignment)
    services.adaptive_sweep(study=study)  # as the recomputation's task does: no worker here
    for extra in items[0].assignments.filter(kind=Assignment.Kind.EXTRA).select_related("study"):
        services.rating_save(assignment=extra, question=question, answer=3)
        services.assignment_submit(assignment=extra)
    compute(study)
    return study


def test_primary_agreement_leaves_the_extras_out_and_the_secondary_pools_them(rated):
    # Interval alpha by hand. Regular ratings: units {1,5}, {3,3}, {4,4}: D_o = 32/6, D_e =
    # 2 * 6 * 28/3 / 30 = 112/30, so alpha = 1 - (32/6)/(112/30) = -3/7. With the extras the
    # first unit is {1,5,3,3}: D_o = (2 * 4 * 8 / 3) / 8 = 8/3, D_e = 2 * 8 * 9.5 / 56 = 19/7,
    # so alpha = 1 - 56/57 = 1/57.
    primary = Result.objects.get(study=rated, statistic="krippendorff_alpha", source="", judge="")
    secondary = Result.objects.get(study=rated, statistic="krippendorff_alpha_with_extras")
    assert primary.value == pytest.approx(-3 / 7)
    assert primary.n_ratings == 6
    assert secondary.value == pytest.approx(1 / 57)
    assert secondary.n_ratings == 8
    assert "biased towards disagreement" in secondary.detail["note"]
    assert secondary.detail["adaptive"] == {
        "decided": 3,
        "triggered": 1,
        "extras": 2,
        "extras_done": 2,
        "shortfall": 0,
    }


def test_the_ratings_export_marks_extra_ratings_for_filtering(rated, client, study_admin):
    client.force_login(study_admin)
    response = client.get(reverse("study_ratings_csv", args=[rated.token]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    kinds = sorted(row["kind"] for row in rows)
    assert kinds == ["extra"] * 2 + ["study"] * 6
