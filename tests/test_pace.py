"""Is the study on track: the pace and its ETA, stalled raters, items short of k, implausibly
fast items and straight-lining, as the dashboard shows them."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from annotation import selectors, services
from annotation.core import pace
from annotation.models import Assignment
from annotation.services.statistics.study_figures import study_figures_store

TODAY = date(2026, 11, 25)


def test_the_eta_extrapolates_the_last_weeks_pace():
    days = [TODAY - timedelta(days=n) for n in (0, 1, 1, 3, 6, 6, 6)]  # 7 submits this week
    assert pace.eta_days(14, days + [TODAY - timedelta(days=30)], today=TODAY) == 14.0
    assert pace.eta_days(0, [], today=TODAY) == 0.0
    assert pace.eta_days(5, [TODAY - timedelta(days=8)], today=TODAY) is None  # no pace
    counted = pace.per_day(days, today=TODAY)
    assert len(counted) == 14
    assert counted[-1] == (TODAY, 1)
    assert counted[-7] == (TODAY - timedelta(days=6), 3)


def test_fast_items_and_straight_lining_have_stated_thresholds():
    assert pace.fast_threshold([60, 80, 100]) == pytest.approx(16.0)  # a fifth of the median
    assert pace.fast_threshold([5, 6, 7]) == 3.0  # never under three seconds
    assert pace.fast_threshold([]) == 3.0
    assert pace.straight_lining([4] * 9 + [5]) == pytest.approx(0.9)
    assert pace.straight_lining([4] * 9) is None  # too few answers to tell


@pytest.mark.django_db
def test_the_dashboard_shows_who_stalled_and_what_is_short(client, open_study, study_admin):
    question = open_study.questions.get()
    now = timezone.now()
    mine = list(open_study.assignments.filter(kind="study").order_by("pk"))
    first_rater = mine[0].rater_id
    for assignment in [a for a in mine if a.rater_id == first_rater]:
        services.rating_save(assignment=assignment, question=question, answer=4)
        services.assignment_submit(assignment=assignment)
    Assignment.objects.filter(rater_id=first_rater).update(time_on_task_ms=1000)
    # The study opened a week ago; nobody else has submitted anything since.
    type(open_study).objects.filter(pk=open_study.pk).update(opened_at=now - timedelta(days=7))
    open_study.refresh_from_db()
    result = selectors.study_pace(study=open_study, now=now)
    done = sum(1 for a in mine if a.rater_id == first_rater)
    assert (result.done, result.total) == (done, len(mine))
    assert result.eta_days == pytest.approx((len(mine) - done) / (done / 7))
    names = dict(open_study.memberships.values_list("user_id", "pseudonym"))
    assert names[first_rater] not in result.stalled
    assert len(result.stalled) == len(names) - 2  # every other rater (one admin)
    # Whole-study figures: computed by the worker with the statistics, shown as stored.
    assert selectors.study_items_short_of_k(study=open_study) == open_study.items.count()
    by_source = selectors.study_progress_by_source(study=open_study)
    assert sum(total for _, _, total in by_source) == len(mine)

    threshold, quality = selectors.study_data_quality(study=open_study)
    assert threshold == 3.0
    row = next(r for r in quality if r.pseudonym == names[first_rater])
    assert (row.items, row.fast, row.median_seconds) == (done, done, 1.0)

    client.force_login(study_admin)
    url = reverse("study_dashboard", args=[open_study.token])
    card = client.get(url).content.decode().split('id="pace"')[1].split("</section>")[0]
    assert f"{done}</span> of {len(mine)} items submitted" in card
    assert "Stalled" in card
    assert "computed with the statistics; none yet" in card
    study_figures_store(study=open_study)
    card = client.get(url).content.decode().split('id="pace"')[1].split("</section>")[0]
    assert f"{open_study.items.count()} items still short of 2 submitted ratings" in card
