"""Adaptive studies' agreement: the primary figure on the regular ratings alone, the secondary
with the extras pooled in and labelled so; and the extras in the ratings export."""

import csv
import io
import json

import pytest
from django.urls import reverse

from annotation import services
from annotation.models import Assignment, Result
from annotation.services.adaptive import stored_manifest
from tests.test_adaptive import RANGE_2, adaptive_study, regular
from tests.test_bundle import build, rows
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
    # The pooled figure is above the primary one here: the label may not claim a direction.
    assert secondary.detail["note"] == (
        "includes extra ratings of items selected for disagreement: the direction of the bias "
        "is not known; not comparable to the primary figure"
    )
    assert "biased towards" not in secondary.detail["note"]
    assert secondary.detail["adaptive"] == {
        "decided": 3,
        "triggered": 1,
        "extras": 2,
        "extras_done": 2,
        "shortfall": 0,
        "lost": 0,
    }


def test_the_ratings_export_marks_extra_ratings_for_filtering(rated, client, study_admin):
    client.force_login(study_admin)
    response = client.get(reverse("study_ratings_csv", args=[rated.token]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    kinds = sorted(row["kind"] for row in rows)
    assert kinds == ["extra"] * 2 + ["study"] * 6


def test_the_bundle_manifest_lists_every_extra_and_the_methods_say_which_figure_is_primary(
    rated, settings, tmp_path
):
    settings.EXPORT_DIR = tmp_path / "exports"
    archive = build(rated)
    manifest = json.loads(archive.read("manifest.json"))
    adaptive = manifest["adaptive_allocation"]
    assert (adaptive["first_k"], adaptive["extra_m"], adaptive["rule"]) == (2, 2, RANGE_2)
    assert (adaptive["items_triggered"], adaptive["extras_created"], adaptive["shortfall"]) == (
        1,
        2,
        0,
    )
    item = rated.items.order_by("pk").first()
    extras = {
        (a.item.token, a.rater.memberships.get(study=rated).pseudonym, a.position)
        for a in Assignment.objects.filter(study=rated, kind="extra")
    }
    listed = {(e["item"], e["rater"], e["position"]) for e in adaptive["extras"]}
    assert listed == extras
    assert {e["item"] for e in adaptive["extras"]} == {item.token}
    assert all(e["first_answers"] == [1, 5] and e["rule"] == RANGE_2 for e in adaptive["extras"])
    assert manifest["manifest_hash"] == stored_manifest(rated).digest
    methods = archive.read("methods.md").decode()
    assert "### Adaptive extra raters" in methods
    assert "1 of 3 items met the rule; 2 extra assignments were made (2 rated)" in methods
    assert (
        "including extra ratings of items selected for disagreement (secondary; the direction "
        "of the bias is not known) = 0.018" in methods
    )
    assert "biased towards disagreement" not in methods
    ratings = rows(archive, "ratings.csv")
    assert sorted(row["kind"] for row in ratings) == ["extra"] * 2 + ["study"] * 6


def test_the_dashboard_shows_the_counts_and_the_pooled_figure_apart(rated, client, study_admin):
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[rated.token])).content.decode()
    assert "<dt>Met the rule</dt><dd>1</dd>" in page
    assert "<dt>Extra assignments</dt><dd>2 (2 rated)</dd>" in page
    assert "Krippendorff's alpha 0.018 over 3 units" in page
    assert "the direction of the bias is not known; not comparable to the primary figure" in page
    assert "biased towards disagreement" not in page
