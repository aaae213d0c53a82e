"""Study admin pages: create, import (with errors named), add raters, open, recompute."""

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotation import services
from annotation.core.stats import coefficients
from annotation.core.stats.data import Observation, ratings_from
from annotation.core.stats.resampling import Bootstrap
from annotation.models import Connection, Output, Question, Result, Study, TaskRun
from annotation.selectors.results import intervals_by_question
from tests.factories import UserFactory
from tests.support.fake_llm import Reply, Status
from tests.test_study_statistics import compute, rate_absolute, two_rater_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, study_admin):
    client.force_login(study_admin)
    return client


def test_study_list_has_an_empty_state(admin_client):
    response = admin_client.get(reverse("study_list"))
    assert "You run no studies yet" in response.text


def test_creating_a_study_with_a_labelled_scale(admin_client, study_admin):
    response = admin_client.post(
        reverse("study_create"),
        {
            "title": "Discharge summaries",
            "raters_per_item": 3,
            "question_prompt": "Is it safe?",
            "scale": "0 = Unsafe\n1 = Needs edits\n2 = Safe",
            "level": "ordinal",
        },
    )
    study = Study.objects.get(title="Discharge summaries")
    assert response.url == reverse("study_dashboard", args=[study.token])
    question = Question.objects.get(study=study)
    assert question.scale == [
        {"value": 0, "label": "Unsafe"},
        {"value": 1, "label": "Needs edits"},
        {"value": 2, "label": "Safe"},
    ]
    assert study.memberships.get().user == study_admin


def test_a_bad_scale_is_explained(admin_client):
    response = admin_client.post(
        reverse("study_create"),
        {
            "title": "T",
            "raters_per_item": 2,
            "question_prompt": "Q",
            "scale": "1 = Bad\nfive = Good",
            "level": "ordinal",
        },
    )
    assert response.status_code == 400
    assert "Line 2: &#x27;five&#x27; is not a whole number." in response.text
    assert not Study.objects.exists()


def test_raters_cannot_create_studies(client, raters):
    client.force_login(raters[0])
    response = client.post(reverse("study_create"), {"title": "T"})
    assert response.status_code == 403


def test_a_rejected_import_names_rows_and_fields_and_writes_nothing(admin_client, draft_study):
    upload = SimpleUploadedFile(
        "cases.csv", b"case_id,input,source,output\nc7,Q,Model X,\nc8,,Model X,A\n"
    )
    response = admin_client.post(
        reverse("study_import", args=[draft_study.token]), {"file": upload}, follow=True
    )
    assert (
        "cases.csv, row 2, field &#x27;output&#x27;: is empty but a source is given"
        in response.text
    )
    assert "cases.csv, row 3, field &#x27;input&#x27;: is empty" in response.text
    assert "Nothing was imported" in response.text
    assert draft_study.cases.count() == 3


def test_a_good_import_reports_what_it_added(admin_client, draft_study):
    upload = SimpleUploadedFile("more.jsonl", b'{"case_id": "c4", "input": "New question"}\n')
    response = admin_client.post(
        reverse("study_import", args=[draft_study.token]), {"file": upload}, follow=True
    )
    assert "Imported more.jsonl: 1 new cases, 0 new sources, 0 new outputs" in response.text


def test_an_upload_over_the_operators_cap_is_refused_naming_it(admin_client, draft_study, settings):
    settings.IMPORT_MAX_DATA_BYTES = 1024**2  # 1 MB
    upload = SimpleUploadedFile("big.csv", b"case_id,input\n" + b"c9,x\n" * 300_000)
    response = admin_client.post(
        reverse("study_import", args=[draft_study.token]), {"file": upload}, follow=True
    )
    assert "The file is larger than 1 MB (IMPORT_MAX_DATA_BYTES); split it." in response.text
    assert draft_study.cases.count() == 3


def test_dashboard_shows_progress_per_rater(admin_client, open_study, raters):
    question = open_study.questions.get()
    assignment = open_study.assignments.filter(rater=raters[1]).first()
    services.rating_save(assignment=assignment, question=question, answer=4)
    services.assignment_submit(assignment=assignment)
    response = admin_client.get(reverse("study_dashboard", args=[open_study.token]))
    assert '<progress value="1" max="4"></progress>\n                1 / 4' in response.text
    assert "Not computed yet" in response.text


def test_opening_from_the_dashboard(admin_client, draft_study):
    url = reverse("study_open", args=[draft_study.token])
    response = admin_client.post(url, {"confirm": "yes"}, follow=True)
    assert "The study is open: 12 assignments stored." in response.text


def test_recompute_queues_the_task_after_commit_and_shows_its_progress(
    admin_client, open_study, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            reverse("study_compute_agreement", args=[open_study.token]),
            headers={"HX-Request": "true"},
        )
    run = TaskRun.objects.get()
    assert (run.kind, run.status) == ("compute_agreement", "queued")
    assert len(callbacks) == 1  # the Celery task is sent only once the run row is committed
    assert f'hx-get="/studies/{open_study.token}/runs/{run.pk}/"' in response.text
    assert 'hx-trigger="every 1s"' in response.text


def test_a_finished_run_stops_polling_and_tells_the_page(admin_client, open_study):
    run = TaskRun.objects.create(
        study=open_study,
        kind="compute_agreement",
        status="succeeded",
        done=1,
        total=1,
        message="overall: alpha = 0.5",
    )
    response = admin_client.get(
        reverse("study_task_run", args=[open_study.token, run.pk]), headers={"HX-Request": "true"}
    )
    assert "every 1s" not in response.text
    assert response["HX-Trigger"] == "taskFinished"
    assert "overall: alpha = 0.5" in response.text


def test_fetch_is_offered_only_for_sources_with_an_endpoint(admin_client, draft_study):
    source = services.source_create(
        study=draft_study,
        label="Echo",
        base_url="http://127.0.0.1:9/v1",
        model_name="echo",
        temperature=None,
        max_tokens=None,
    )
    response = admin_client.get(reverse("study_dashboard", args=[draft_study.token]))
    assert reverse("study_fetch_outputs", args=[draft_study.token, source.pk]) in response.text
    assert response.text.count("Fetch 3 missing outputs") == 1


def test_other_admins_studies_are_hidden(client, outsider, draft_study):
    client.force_login(outsider)
    assert client.get(reverse("study_dashboard", args=[draft_study.token])).status_code == 404
    response = client.post(reverse("study_open", args=[draft_study.token]))
    assert response.status_code == 404
    assert Study.objects.get(pk=draft_study.pk).status == "draft"


def test_adding_a_model_endpoint_from_the_dashboard(admin_client, draft_study):
    Connection.objects.create(
        name="echo",
        base_url="http://127.0.0.1:9/v1",
        allowed_models=["echo-8b"],
        api_key_env="EVALAPP_LLM_KEY_ECHO",
    )
    url = reverse("study_add_source", args=[draft_study.token])
    data = {
        "label": "Echo-8B",
        "connection": "echo",
        "model_name": "echo-8b",
        "temperature": "0.3",
        "max_tokens": "128",
    }
    response = admin_client.post(url, data, follow=True)
    assert "Added model source Echo-8B." in response.text
    source = draft_study.sources.get(label="Echo-8B")
    assert (source.model_name, source.temperature, source.connection.name, source.base_url) == (
        "echo-8b",
        0.3,
        "echo",
        "http://127.0.0.1:9/v1",
    )
    response = admin_client.post(url, data, follow=True)
    assert "Source with this Study and Label already exists." in response.text
    assert draft_study.sources.filter(label="Echo-8B").count() == 1


def test_an_endpoint_needs_a_connection_and_model(admin_client, draft_study):
    url = reverse("study_add_source", args=[draft_study.token])
    response = admin_client.post(url, {"label": "X"}, follow=True)
    assert "connection: Choose a connection." in response.text
    assert "model_name: This field is required." in response.text
    assert not draft_study.sources.filter(label="X").exists()


def test_endpoint_hosts_can_be_restricted(admin_client, draft_study, settings):
    settings.LLM_ALLOWED_HOSTS = ["llm.hospital.example"]
    settings.LLM_KEYLESS_HOSTS = ["10.0.0.5", "llm.hospital.example"]
    url = reverse("study_add_source", args=[draft_study.token])
    data = {"label": "Internal", "base_url": "http://10.0.0.5/v1", "model_name": "m"}
    response = admin_client.post(url, data, follow=True)
    assert "This host is not in LLM_ALLOWED_HOSTS." in response.text
    data["base_url"] = "https://llm.hospital.example/v1"
    admin_client.post(url, data)
    assert draft_study.sources.filter(label="Internal").exists()


def test_a_second_fetch_for_the_same_source_is_refused_while_one_runs(admin_client, draft_study):
    source = services.source_create(
        study=draft_study, label="Echo", base_url="http://127.0.0.1:9/v1", model_name="echo"
    )
    url = reverse("study_fetch_outputs", args=[draft_study.token, source.pk])
    TaskRun.objects.create(study=draft_study, source=source, kind="fetch_outputs")
    response = admin_client.post(url, headers={"HX-Request": "true"})
    assert "Outputs for Echo are already being fetched." in response.text
    assert TaskRun.objects.count() == 1


def test_outputs_cannot_be_fetched_once_the_study_is_open(admin_client, open_study):
    source = open_study.sources.get(label="MedSumm-7B")
    url = reverse("study_fetch_outputs", args=[open_study.token, source.pk])
    response = admin_client.post(url, follow=True)
    assert "Outputs can only be fetched while the study is a draft." in response.text
    assert not TaskRun.objects.exists()


def test_an_admin_of_one_study_cannot_touch_another_studys_sources_or_runs(
    client, study_admin, draft_study
):
    other_admin = UserFactory(username="otheradmin")
    other = services.study_create(creator=other_admin, title="Other", question_prompt="q")
    source = services.source_create(
        study=other, label="Theirs", base_url="http://127.0.0.1:9/v1", model_name="m"
    )
    run = TaskRun.objects.create(study=other, kind="compute_agreement")
    client.force_login(study_admin)
    # Their ids under our study's token: the lookups are scoped to our study.
    fetch = reverse("study_fetch_outputs", args=[draft_study.token, source.pk])
    assert client.post(fetch).status_code == 404
    assert (
        client.get(reverse("study_task_run", args=[draft_study.token, run.pk])).status_code == 404
    )
    assert TaskRun.objects.filter(source=source).count() == 0


def test_a_study_admin_cannot_be_added_as_its_rater(admin_client, draft_study, study_admin):
    response = admin_client.post(
        reverse("study_add_raters", args=[draft_study.token]),
        {"users": [study_admin.pk]},
        follow=True,
    )
    # The page never offers the admin, so a forged choice is refused as invalid...
    assert "Choose among the people listed: anyone else is invited by e-mail." in response.text
    assert draft_study.memberships.get(user=study_admin).role == "admin"
    # ...and the service refuses it too, for any other caller.
    with pytest.raises(ValidationError) as info:
        services.study_add_raters(study=draft_study, users=[study_admin])
    assert "A study's admins cannot also rate it." in info.value.messages
    assert draft_study.memberships.get(user=study_admin).role == "admin"


def test_a_scale_must_run_from_lowest_to_highest(admin_client, study_admin):
    form = {
        "title": "T",
        "raters_per_item": 2,
        "question_prompt": "Q",
        "level": "ordinal",
        "scale": "5 = High\n1 = Low",
    }
    response = admin_client.post(reverse("study_create"), form)
    assert "List each value once, from lowest to highest." in response.text
    # The same rule holds for studies created through the service, e.g. by a script.
    with pytest.raises(ValidationError, match="lowest to highest"):
        services.study_create(
            creator=study_admin,
            title="T",
            question_prompt="Q",
            scale=[{"value": 2, "label": "b"}, {"value": 1, "label": "a"}],
        )
    assert not Study.objects.exists()


def test_a_model_endpoint_with_a_template_stop_lines_and_samples(admin_client, draft_study):
    url = reverse("study_add_source", args=[draft_study.token])
    data = {
        "label": "Templated",
        "base_url": "http://127.0.0.1:9/v1",
        "model_name": "echo",
        "stop": "END\n###\n",
        "user_template": "",
        "samples_per_case": "3",
    }
    admin_client.post(url, data, follow=True)
    source = draft_study.sources.get(label="Templated")
    assert source.stop == ["END", "###"]
    assert source.user_template == "{{ input }}"  # left empty: the case's input as it is
    assert (source.samples_per_case, source.max_concurrency) == (3, 4)
    bad = admin_client.post(url, {**data, "label": "Bad", "user_template": "{{ x }}"}, follow=True)
    assert "Unknown field {{ x }}" in bad.text
    assert not draft_study.sources.filter(label="Bad").exists()


def test_failed_units_are_listed_with_their_reason_and_retried_from_one_button(
    admin_client, draft_study, fake_llm
):
    # Two of three cases fail (a 500 every retry, then a refused key); the third succeeds.
    source = services.source_create(
        study=draft_study,
        label="Echo",
        base_url=fake_llm.base_url,
        model_name="echo",
        max_concurrency=1,  # one call at a time, so the script meets the cases in order
    )
    fake_llm.enqueue(*[Status(500)] * 6, Status(401), Reply("fine"))
    run = TaskRun.objects.create(study=draft_study, source=source, kind="fetch_outputs")
    services.outputs_fetch_missing(run=services.task_run_claim(run_id=run.pk))
    assert Output.objects.filter(source=source).count() == 1

    page = admin_client.get(reverse("study_dashboard", args=[draft_study.token])).text
    assert "Retry 2 failed" in page
    assert "2 units failed" in page
    assert "HTTP 500" in page
    assert "HTTP 401" in page

    # The retry does just those two; once they succeed nothing is listed as failed any more.
    admin_client.post(reverse("study_fetch_outputs", args=[draft_study.token, source.pk]))
    run = TaskRun.objects.filter(source=source).latest("created_at")
    services.outputs_fetch_missing(run=services.task_run_claim(run_id=run.pk))
    run.refresh_from_db()
    assert (run.status, run.total) == ("succeeded", 2)
    page = admin_client.get(reverse("study_dashboard", args=[draft_study.token])).text
    assert "units failed" not in page
    assert "unit failed" not in page
    assert "Retry" not in page
    assert "missing output" not in page


def test_analysis_settings_are_saved_and_recompute_the_statistics(
    admin_client, open_study, django_capture_on_commit_callbacks
):
    url = reverse("study_analysis", args=[open_study.token])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"p_adjustment": "bonferroni", "judge_epsilon": "0.1"})
    assert response.status_code == 302
    open_study.refresh_from_db()
    assert (open_study.p_adjustment, open_study.judge_epsilon) == ("bonferroni", 0.1)
    assert open_study.task_runs.filter(kind="compute_agreement", status="queued").count() == 1


def test_an_epsilon_outside_0_to_1_is_refused_and_nothing_changes(admin_client, open_study):
    url = reverse("study_analysis", args=[open_study.token])
    response = admin_client.post(url, {"p_adjustment": "holm", "judge_epsilon": "1.5"}, follow=True)
    assert "Alternative Annotator Test epsilon: Ensure this value is less than or equal to 1.0" in (
        response.content.decode()
    )
    open_study.refresh_from_db()
    assert open_study.judge_epsilon == 0.2


def test_another_admins_study_settings_are_out_of_reach(client, outsider, open_study):
    client.force_login(outsider)
    url = reverse("study_analysis", args=[open_study.token])
    response = client.post(url, {"p_adjustment": "bonferroni", "judge_epsilon": "0.1"})
    assert response.status_code == 404
    open_study.refresh_from_db()
    assert open_study.p_adjustment == "holm"


def test_a_locked_studys_analysis_settings_stay_as_they_are(admin_client, open_study):
    services.study_lock(study=open_study)
    url = reverse("study_analysis", args=[open_study.token])
    response = admin_client.post(
        url, {"p_adjustment": "bonferroni", "judge_epsilon": "0.1"}, follow=True
    )
    assert (
        "The study is locked: reopen its analysis to change its statistics."
        in response.content.decode()
    )
    open_study.refresh_from_db()
    assert (open_study.p_adjustment, open_study.judge_epsilon) == ("holm", 0.2)


def _cell(low: float, high: float) -> str:
    return f"{low:.3f} to {high:.3f}"


def test_the_agreement_table_labels_each_interval_by_the_question_it_answers(
    admin_client, open_study
):
    rate_absolute(open_study)
    compute(open_study)
    response = admin_client.get(reverse("study_dashboard", args=[open_study.token]))
    page = response.text
    assert "95% CI, these raters (cases random)" in page
    assert "95% CI, raters like these (raters and cases random)" in page
    alpha = Result.objects.get(
        study=open_study, statistic="krippendorff_alpha", source="", judge=""
    )
    (like,) = [
        other
        for other in alpha.detail["other_intervals"]
        if other["interval_question"] == "raters like these, cases like these"
    ]
    # Both of alpha's intervals are shown, each under its own question.
    headline = page[page.index('data-testid="alpha-ci"') :].split("</p>")[0]
    these_at = headline.index("these raters (cases random)")
    like_at = headline.index("raters like these (raters and cases random)")
    assert these_at < headline.index(_cell(*alpha.detail["ci"])) < like_at
    assert like_at < headline.index(_cell(*like["ci"]))
    assert 'data-testid="no-interval"' not in headline


def test_two_raters_show_no_interval_for_raters_like_these_and_say_why(
    admin_client, study_admin, raters
):
    study = two_rater_study(study_admin, raters)
    rate_absolute(study)
    compute(study)
    page = admin_client.get(reverse("study_dashboard", args=[study.token])).text
    assert "95% CI, raters like these (raters and cases random)" in page
    assert 'data-testid="no-interval"' in page
    notes = page[page.index('data-testid="interval-notes"') :].split("</ol>")[0]
    assert "No interval: needs three or more raters" in notes
    # The hover says the same where the cell is.
    assert 'title="needs three or more raters' in page


def test_icc_intervals_sit_under_the_question_mcgraw_and_wong_give_them():
    """ICC(2,1)'s generalized confidence interval (the F interval beside it) is for raters like
    these, its unit bootstrap for these raters; ICC(3,1) is about these raters only, and its
    raters-like-these cell says so."""
    rng = np.random.default_rng(3)
    observations = [
        Observation(f"case{u}", f"rater{r}", int(np.clip(round(3 + c + rng.normal()), 1, 5)))
        for u, c in enumerate(rng.normal(size=12))
        for r in range(3)
    ]
    ratings = ratings_from(observations, level="interval", categories=[1, 2, 3, 4, 5])
    forms = coefficients.icc(ratings, bootstrap=Bootstrap(200, 1))
    these, like = intervals_by_question(forms["ICC2"].as_dict())
    assert like["interval_method"] == "generalized confidence interval"
    assert like["ci"] == pytest.approx(list(forms["ICC2"].ci))
    assert these["interval_method"] == "percentile bootstrap over cases"
    these, like = intervals_by_question(forms["ICC3"].as_dict())
    assert these["interval_method"] == "McGraw-Wong F"
    assert like["ci"] is None
    assert like["reason"].startswith("ICC(3) measures consistency among these raters only")
