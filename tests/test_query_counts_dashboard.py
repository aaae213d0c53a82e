"""The study dashboard reads a fixed number of rows whatever the study's size: live progress from
one aggregate over the assignments, whole-study figures as the statistics stored them. Its query
count is pinned here, and must not grow with raters, items or ratings."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotation import selectors, services
from annotation.core import pace
from annotation.models import Assignment, StudyFigures, TaskRun
from tests.factories import UserFactory, submit_rated

pytestmark = pytest.mark.django_db

# Session and user, the study, then the page: one aggregate for progress and pace, one for the
# cases, the cards' own rows (questions, invitations, sources, results, planning, runs, judges,
# candidates, reopenings), the stored figures; then issue 24's cards, each a fixed number of
# queries whatever the study's size: the adaptive design (1), adjudication runs and adjudicators
# (2, more only once items were chosen), the notifications sent (1); for an open study, whether
# an opening left raters' assignments to write (1). 28 on SQLite and PostgreSQL.
MAX_QUERIES = 28


def rated_study(admin, *, cases: int, raters: int):
    """An open study of `cases` cases x 2 sources, every item rated and submitted by each of
    `raters` raters, with its statistics (and so its dashboard figures) computed."""
    study = services.study_create(
        creator=admin,
        title=f"{cases} cases, {raters} raters",
        raters_per_item=raters,
        question_prompt="How good is it?",
        seed=7,
    )
    rows = ["case_id,input,source,output"]
    for i in range(cases):
        rows += [f"c{i},Question {i},Model A,Answer {i}", f"c{i},Question {i},Model B,Other {i}"]
    services.study_import_file(study=study, filename="s.csv", content="\n".join(rows).encode())
    people = [UserFactory(username=f"r{study.pk}-{n}") for n in range(raters)]
    services.study_add_raters(study=study, users=people)
    services.study_open(study=study)
    question = study.questions.get()
    for n, assignment in enumerate(study.assignments.order_by("pk")):
        services.rating_save(assignment=assignment, question=question, answer=n % 5 + 1)
    submit_rated(study)
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    study.refresh_from_db()
    return study


def dashboard_queries(client, study) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("study_dashboard", args=[study.token]))
    assert response.status_code == 200
    return [query["sql"] for query in queries.captured_queries]


def test_the_dashboard_of_a_rated_study_stays_within_its_queries(
    client, study_admin, django_assert_max_num_queries
):
    study = rated_study(study_admin, cases=4, raters=3)
    client.force_login(study_admin)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(reverse("study_dashboard", args=[study.token]))
    page = response.content.decode()
    card = page.split('id="pace"')[1].split("</section>")[0]
    # Everything is there: live progress, and the stored figures with their time.
    assert "24</span> of 24 items submitted" in card
    assert "Every item has its 3 ratings." in card
    assert '<td>Model A</td><td><progress value="12" max="12"></progress> 12 / 12' in card
    assert 'id="figures-as-of"' in card
    assert page.count("<progress") >= 3 + 2  # each rater's progress and each source's


def test_the_dashboards_query_count_does_not_grow_with_the_study(client, study_admin):
    small = rated_study(study_admin, cases=2, raters=2)
    big = rated_study(study_admin, cases=6, raters=6)  # 3x the raters and items, 9x the ratings
    client.force_login(study_admin)
    dashboard_queries(client, small)  # warm whatever is cached per process
    assert len(dashboard_queries(client, big)) == len(dashboard_queries(client, small))
    # Nothing read row by row: no query repeats with only a parameter changed.
    queries = dashboard_queries(client, big)
    assert len(set(queries)) == len(queries)


def test_the_stored_figures_are_the_live_ones(study_admin):
    study = rated_study(study_admin, cases=3, raters=2)
    stored = selectors.study_dashboard_figures(study=study)
    threshold, quality = selectors.study_data_quality(study=study)
    assert stored.by_source == selectors.study_progress_by_source(study=study)
    assert stored.short_of_k == selectors.study_items_short_of_k(study=study) == 0
    assert (stored.fast_threshold, stored.quality) == (threshold, quality)
    assert stored.computed_at == StudyFigures.objects.get(study=study).computed_at


def test_an_open_study_without_a_recomputation_says_its_figures_are_not_computed_yet(
    client, open_study, study_admin
):
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[open_study.token])).content.decode()
    assert "computed with the statistics; none yet" in page
    assert selectors.study_dashboard_figures(study=open_study) is None


def test_the_one_aggregate_counts_submits_per_day_as_every_submit_would(study_admin):
    study = rated_study(study_admin, cases=4, raters=2)  # 16 assignments
    now = timezone.now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    # Submits on the window's edges and each day's (first and last second), one before the
    # window and one a day ahead (a skewed clock); the last assignment is not submitted.
    days = [-20, -14, -13, -13, -7, -6, -6, -1, 0, 0, 0, 1]
    seconds = [0, 86399, 0, 86399, 5, 0, 86399, 40, 0, 3600, 86399, 10]
    assignments = list(study.assignments.order_by("pk"))
    for assignment, n, s in zip(assignments, days + [0, 0, 0], seconds + [1, 2, 3], strict=False):
        assignment.submitted_at = midnight + timedelta(days=n, seconds=s)
    assignments[-1].submitted_at = None
    Assignment.objects.bulk_update(assignments, ["submitted_at"])
    submitted = [a.submitted_at.date() for a in assignments if a.submitted_at]

    result = selectors.study_pace(study=study, now=now)
    assert result.days == pace.per_day(submitted, today=now.date())
    assert result.eta_days == pace.eta_days(1, submitted, today=now.date())
    assert (result.done, result.total) == (15, 16)
    assert dict(result.days)[now.date()] == 6


def test_a_study_frozen_before_its_figures_were_stored_has_them_computed_on_open(open_study):
    services.study_lock(study=open_study)  # its final recomputation never ran here
    open_study.refresh_from_db()
    assert not StudyFigures.objects.filter(study=open_study).exists()
    figures = selectors.study_dashboard_figures(study=open_study)
    assert figures.by_source == selectors.study_progress_by_source(study=open_study)
    assert figures.short_of_k == open_study.items.count()  # nothing was submitted


def test_figures_stored_in_an_older_shape_read_as_not_computed_yet(client, study_admin):
    """A field renamed since the figures were stored: the card says none yet (the next
    recomputation stores them again), never a server error."""
    study = rated_study(study_admin, cases=2, raters=2)
    stored = StudyFigures.objects.get(study=study)
    stored.data["quality"] = [{"pseudonym": "R1", "older_field": 1}]
    stored.save()
    assert selectors.study_dashboard_figures(study=study) is None
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[study.token])).content.decode()
    assert "computed with the statistics; none yet" in page
