"""A locked study's statistics are the paper's: a study admin cannot change them with a new
judge, a judge run, a recomputation or new analysis settings, from the dashboard or the API,
unless they reopen the analysis, which is recorded (who, when, why) and listed in the paper
bundle. An archived study is frozen for good. Each test is the attack, then the refusal."""

import html

import pytest
from django.urls import reverse
from django.utils import timezone

from annotation import services
from annotation.models import AnalysisReopening, Judge, Result, Study, TaskRun
from annotation.services.bundle import _manifest, methods_text
from tests.support.browser import BROWSER_MARKS, browser_page, log_in
from tests.test_api import auth
from tests.test_study_statistics import compute, rate_absolute

pytestmark = pytest.mark.django_db


def _browser(test):
    for mark in BROWSER_MARKS:
        test = mark(test)
    return test


LOCKED = "The study is locked: reopen its analysis to change its statistics."
ARCHIVED = "The study is archived: its statistics are frozen for good."
JUDGE = {"label": "Late judge", "base_url": "http://127.0.0.1:9/v1", "model_name": "m"}


@pytest.fixture
def admin_client(client, study_admin):
    client.force_login(study_admin)
    return client


@pytest.fixture
def rated(open_study) -> Study:
    """An open study every rater finished, its statistics computed, and one judge added."""
    rate_absolute(open_study)
    compute(open_study)
    services.judge_create(study=open_study, label="Early judge", **_endpoint())
    return open_study


def _endpoint() -> dict:
    return {k: v for k, v in JUDGE.items() if k != "label"}


@pytest.fixture
def locked(rated) -> Study:
    services.study_lock(study=rated)
    rated.refresh_from_db()
    return rated


@pytest.fixture
def archived(locked) -> Study:
    services.study_archive(study=locked)
    locked.refresh_from_db()
    return locked


def _statistics(study: Study) -> list[tuple]:
    return list(
        study.results.order_by("pk").values_list("pk", "value", "inputs_hash", "computed_at")
    )


def _work(study: Study) -> tuple[int, int, int]:
    """What an attack would add: judges, and judge runs and recomputations queued."""
    runs = study.task_runs.filter(kind__in=[TaskRun.Kind.RUN_JUDGE, TaskRun.Kind.COMPUTE_AGREEMENT])
    return study.judges.count(), runs.count(), study.reopenings.count()


def _html_add_judge(client, study):
    return client.post(reverse("study_add_judge", args=[study.token]), JUDGE, follow=True)


def _html_run_judge(client, study):
    judge = study.judges.get()
    url = reverse("study_run_judge", args=[study.token, judge.pk])
    return client.post(url, follow=True)


def _html_recompute(client, study):
    return client.post(reverse("study_compute_agreement", args=[study.token]), follow=True)


def _html_settings(client, study):
    data = {"p_adjustment": "bonferroni", "judge_epsilon": "0.1"}
    return client.post(reverse("study_analysis", args=[study.token]), data, follow=True)


def _api_add_judge(client, study):
    url = f"/api/v1/studies/{study.token}/judges/"
    return client.post(url, JUDGE, content_type="application/json", headers=_admin(study))


def _api_run_judge(client, study):
    url = f"/api/v1/studies/{study.token}/judges/{study.judges.get().pk}/run/"
    return client.post(url, headers=_admin(study))


def _api_recompute(client, study):
    return client.post(f"/api/v1/studies/{study.token}/recompute/", headers=_admin(study))


def _api_settings(client, study):
    url = f"/api/v1/studies/{study.token}/"
    body = {"p_adjustment": "bonferroni", "judge_epsilon": 0.1}
    return client.patch(url, body, content_type="application/json", headers=_admin(study))


def _admin(study: Study) -> dict:
    return auth(study.memberships.get(role="admin").user)


ATTACKS = {
    "dashboard: add a judge": (_html_add_judge, 200),
    "dashboard: run a judge": (_html_run_judge, 200),
    "dashboard: recompute": (_html_recompute, 200),
    "dashboard: analysis settings": (_html_settings, 200),
    "API: add a judge": (_api_add_judge, 400),
    "API: run a judge": (_api_run_judge, 409),
    "API: recompute": (_api_recompute, 409),
    "API: analysis settings": (_api_settings, 409),
}


def _attack_is_refused(client, study: Study, attack: str, reason: str) -> None:
    before, statistics = _work(study), _statistics(study)
    send, code = ATTACKS[attack]
    response = send(client, study)
    assert response.status_code == code
    assert reason in response.content.decode()
    assert _work(study) == before  # no judge, no run, nothing recorded
    assert _statistics(study) == statistics
    study.refresh_from_db()
    assert (study.p_adjustment, study.judge_epsilon) == ("holm", 0.2)


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_locked_study_refuses_what_would_change_its_statistics(admin_client, locked, attack):
    _attack_is_refused(admin_client, locked, attack, LOCKED)


@pytest.mark.parametrize("attack", ATTACKS)
def test_an_archived_study_refuses_what_would_change_its_statistics(admin_client, archived, attack):
    _attack_is_refused(admin_client, archived, attack, ARCHIVED)


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_closed_reopening_freezes_the_statistics_again(admin_client, locked, study_admin, attack):
    services.analysis_reopen(study=locked, by=study_admin, reason="Add a judge")
    services.analysis_close(study=locked, by=study_admin)
    _attack_is_refused(admin_client, locked, attack, LOCKED)


def test_the_same_requests_are_accepted_while_the_study_is_open(admin_client, rated):
    # The attacks above are refused for the lock alone: on the open study each one works.
    _html_add_judge(admin_client, rated)
    assert rated.judges.filter(label="Late judge").exists()
    assert _api_recompute(admin_client, rated).status_code == 202
    assert _api_settings(admin_client, rated).status_code == 200


def test_a_locked_studys_analysis_reopened_takes_judges_runs_recomputations_and_settings(
    admin_client, locked, study_admin
):
    response = admin_client.post(
        reverse("study_analysis_reopen", args=[locked.token]),
        {"reason": "Reviewer 2 asked for a second judge", "confirm": "yes"},
        follow=True,
    )
    assert "The analysis is reopened" in response.content.decode()
    reopening = locked.reopenings.get()
    assert (reopening.opened_by, reopening.reason) == (
        study_admin,
        "Reviewer 2 asked for a second judge",
    )
    assert reopening.closed_at is None
    _html_add_judge(admin_client, locked)
    late = locked.judges.get(label="Late judge")
    url = reverse("study_run_judge", args=[locked.token, late.pk])
    admin_client.post(url)
    assert locked.task_runs.filter(kind=TaskRun.Kind.RUN_JUDGE, judge=late).exists()
    assert _api_recompute(admin_client, locked).status_code == 202
    assert _api_settings(admin_client, locked).status_code == 200
    locked.refresh_from_db()
    assert (locked.status, locked.p_adjustment) == (Study.Status.LOCKED, "bonferroni")


def test_rating_stays_closed_while_the_analysis_is_reopened(locked, study_admin, raters):
    services.analysis_reopen(study=locked, by=study_admin, reason="Recompute after a fix")
    assignment = locked.assignments.filter(rater=raters[0]).first()
    with pytest.raises(Exception, match="locked"):
        services.rating_save(assignment=assignment, question=locked.questions.get(), answer=1)


def test_reopening_asks_first_and_carries_the_reason(admin_client, locked):
    url = reverse("study_analysis_reopen", args=[locked.token])
    page = admin_client.post(url, {"reason": "Judge <b>fix</b>"}).content.decode()
    assert "Reopen the study's analysis?" in page
    assert 'name="reason" value="Judge &lt;b&gt;fix&lt;/b&gt;"' in page
    assert not locked.reopenings.exists()


def test_reopening_without_a_reason_is_refused(admin_client, locked):
    url = reverse("study_analysis_reopen", args=[locked.token])
    response = admin_client.post(url, {"reason": "  ", "confirm": "yes"}, follow=True)
    assert "Say why the analysis is reopened" in response.content.decode()
    assert not locked.reopenings.exists()
    response = admin_client.post(
        f"/api/v1/studies/{locked.token}/reopen-analysis/",
        {"reason": ""},
        content_type="application/json",
        headers=_admin(locked),
    )
    assert response.status_code == 400
    assert not locked.reopenings.exists()


@pytest.mark.parametrize("who", ["rater", "outsider"])
def test_only_the_studys_admins_can_reopen_its_analysis(client, locked, raters, outsider, who):
    user = raters[0] if who == "rater" else outsider
    client.force_login(user)
    url = reverse("study_analysis_reopen", args=[locked.token])
    assert client.post(url, {"reason": "mine now", "confirm": "yes"}).status_code == 404
    api = client.post(
        f"/api/v1/studies/{locked.token}/reopen-analysis/",
        {"reason": "mine now"},
        content_type="application/json",
        headers=auth(user),
    )
    assert api.status_code == (403 if who == "rater" else 404)
    assert not locked.reopenings.exists()


def test_another_studys_admin_cannot_reopen_this_one(client, locked, study_admin):
    from tests.factories import UserFactory

    other_admin = UserFactory(username="otheradmin")
    other = services.study_create(creator=other_admin, title="Theirs", question_prompt="Good?")
    client.force_login(other_admin)
    url = reverse("study_analysis_reopen", args=[locked.token])
    assert client.post(url, {"reason": "x", "confirm": "yes"}).status_code == 404
    assert other.reopenings.count() == locked.reopenings.count() == 0


def test_an_archived_studys_analysis_cannot_be_reopened(admin_client, archived):
    url = reverse("study_analysis_reopen", args=[archived.token])
    response = admin_client.post(url, {"reason": "one more", "confirm": "yes"}, follow=True)
    assert "The study is archived: its analysis cannot be reopened." in response.content.decode()
    api = admin_client.post(
        f"/api/v1/studies/{archived.token}/reopen-analysis/",
        {"reason": "one more"},
        content_type="application/json",
        headers=_admin(archived),
    )
    assert api.status_code == 409
    assert not archived.reopenings.exists()


def test_an_open_studys_analysis_is_not_reopened(admin_client, rated):
    url = reverse("study_analysis_reopen", args=[rated.token])
    response = admin_client.post(url, {"reason": "early", "confirm": "yes"}, follow=True)
    assert "Only a locked study's analysis can be reopened." in html.unescape(response.text)
    assert not rated.reopenings.exists()


def test_a_study_is_not_archived_while_its_analysis_is_reopened(locked, study_admin):
    services.analysis_reopen(study=locked, by=study_admin, reason="A judge")
    with pytest.raises(Exception, match="close it before archiving"):
        services.study_archive(study=locked)
    locked.refresh_from_db()
    assert locked.status == Study.Status.LOCKED


def test_reopening_and_closing_through_the_api_are_recorded(client, locked, study_admin):
    base = f"/api/v1/studies/{locked.token}"
    opened = client.post(
        f"{base}/reopen-analysis/",
        {"reason": "Second judge"},
        content_type="application/json",
        headers=auth(study_admin),
    )
    assert opened.status_code == 200
    assert opened.json()["opened_by"] == study_admin.username
    assert opened.json()["closed_at"] is None
    again = client.post(
        f"{base}/reopen-analysis/",
        {"reason": "twice"},
        content_type="application/json",
        headers=auth(study_admin),
    )
    assert (again.status_code, again.json()["detail"]) == (
        409,
        "The study's analysis is already reopened.",
    )
    closed = client.post(f"{base}/close-analysis/", headers=auth(study_admin))
    assert closed.status_code == 200
    assert closed.json()["closed_by"] == study_admin.username
    assert client.post(f"{base}/close-analysis/", headers=auth(study_admin)).status_code == 409
    reopening = AnalysisReopening.objects.get(study=locked)
    assert (reopening.reason, reopening.closed_by) == ("Second judge", study_admin)


def test_reopening_and_closing_are_logged(locked, study_admin, caplog):
    with caplog.at_level("INFO", logger="annotation.services.studies"):
        services.analysis_reopen(study=locked, by=study_admin, reason="A judge left out")
        services.analysis_close(study=locked, by=study_admin)
    logged = caplog.text
    assert f"analysis of study {locked.token} reopened by studyadmin" in logged
    assert "A judge left out" in logged
    assert f"analysis of study {locked.token} closed by studyadmin" in logged


def test_the_dashboard_and_the_bundle_list_every_reopening(admin_client, locked, study_admin):
    services.analysis_reopen(study=locked, by=study_admin, reason="Add <i>a</i> judge")
    services.analysis_close(study=locked, by=study_admin)
    services.analysis_reopen(study=locked, by=study_admin, reason="Fix the epsilon")
    page = admin_client.get(reverse("study_dashboard", args=[locked.token])).content.decode()
    today = timezone.now().strftime("%Y-%m-%d")
    assert f"Analysis reopened by studyadmin on {today}" in page
    assert "Add &lt;i&gt;a&lt;/i&gt; judge" in page
    assert "Close the analysis" in page
    methods = methods_text(locked)
    assert "The analysis was reopened 2 times after the study was locked" in methods
    assert "Analysis reopened by studyadmin on" in methods
    assert "Add &lt;i&gt;a&lt;/i&gt; judge (closed by studyadmin on" in methods
    assert "Fix the epsilon (still open when this bundle was built)." in methods
    manifest = _manifest(locked, {})
    assert '"reason": "Fix the epsilon"' in manifest


def test_a_bundle_of_a_study_never_reopened_says_so(locked):
    assert "The analysis was not reopened after the study was locked." in methods_text(locked)


def test_a_locked_study_still_builds_its_paper_bundle(admin_client, locked):
    response = admin_client.post(f"/api/v1/studies/{locked.token}/bundle/", headers=_admin(locked))
    assert response.status_code == 202


def test_locking_recomputes_once_more_with_every_submitted_rating(
    rated, django_capture_on_commit_callbacks
):
    # A recomputation still waiting from the last submit is sent at once, not joined by another.
    waiting = TaskRun.objects.create(study=rated, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    with django_capture_on_commit_callbacks(execute=True):
        services.study_lock(study=rated)
    recomputations = rated.task_runs.filter(
        kind=TaskRun.Kind.COMPUTE_AGREEMENT, status=TaskRun.Status.QUEUED
    )
    assert list(recomputations.values_list("pk", flat=True)) == [waiting.pk]


def test_locking_queues_the_final_recomputation_when_none_waits(
    rated, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.study_lock(study=rated)
    waiting = rated.task_runs.filter(
        kind=TaskRun.Kind.COMPUTE_AGREEMENT, status=TaskRun.Status.QUEUED
    )
    assert waiting.count() == 1


def test_a_judge_run_ending_after_the_lock_queues_no_recomputation(
    locked, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.statistics_recompute_soon(study=locked)
    waiting = locked.task_runs.filter(
        kind=TaskRun.Kind.COMPUTE_AGREEMENT, status=TaskRun.Status.QUEUED
    )
    assert not waiting.exists()


def test_a_study_is_not_locked_while_a_judge_is_running(rated):
    judge = rated.judges.get()
    TaskRun.objects.create(study=rated, kind=TaskRun.Kind.RUN_JUDGE, judge=judge)
    with pytest.raises(Exception, match="Early judge is still judging"):
        services.study_lock(study=rated)
    rated.refresh_from_db()
    assert rated.status == Study.Status.OPEN


def test_a_judge_run_sent_again_after_the_lock_judges_nothing(rated, fake_llm):
    # Queued while open, its worker died; the lock went ahead; the sweep sends it again.
    judge = services.judge_create(
        study=rated, label="Slow judge", base_url=fake_llm.base_url, model_name="judge-1"
    )
    run = TaskRun.objects.create(study=rated, kind=TaskRun.Kind.RUN_JUDGE, judge=judge)
    long_ago = timezone.now() - timezone.timedelta(days=1)
    TaskRun.objects.filter(pk=run.pk).update(created_at=long_ago)
    services.study_lock(study=rated)
    services.judge_run(run=services.task_run_claim(run_id=run.pk))
    run.refresh_from_db()
    assert (run.status, run.message) == (TaskRun.Status.FAILED, LOCKED)
    assert not judge.verdicts.exists()
    assert fake_llm.requests == []


def test_ratings_are_not_imported_into_a_locked_study(locked):
    with pytest.raises(Exception, match="Ratings can only be imported into a draft study"):
        services.study_import_ratings(study=locked, filename="more.csv", content=b"")
    assert Judge.objects.filter(study=locked).count() == 1
    assert Result.objects.filter(study=locked).exists()


@_browser
def test_the_dashboard_reopens_the_analysis_only_once_confirmed_with_its_reason(
    live_server, open_study, study_admin
):
    services.study_lock(study=open_study)
    with browser_page(live_server.url) as page:
        log_in(page, study_admin.username)
        page.goto(f"/studies/{open_study.token}/")
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        dialog = page.locator("#confirm-dialog")
        page.get_by_label("Why reopen the analysis?").fill("Reviewer 2 asked for a judge")
        page.get_by_role("button", name="Reopen the analysis").click()
        page.wait_for_selector("#confirm-dialog[open]")
        assert dialog.locator("h2").inner_text() == "Reopen the study's analysis?"
        dialog.get_by_role("button", name="Cancel").click()
        page.wait_for_selector("#confirm-dialog", state="hidden")
        assert posts == []  # dismissed: nothing sent

        page.get_by_role("button", name="Reopen the analysis").click()
        dialog.get_by_role("button", name="Reopen the analysis").click()
        page.wait_for_selector(".messages >> text=The analysis is reopened")
        assert (
            "Analysis reopened by studyadmin" in page.locator("#study").locator("..").inner_text()
        )
    reopening = open_study.reopenings.get()
    assert (reopening.reason, reopening.opened_by) == ("Reviewer 2 asked for a judge", study_admin)
