"""The rater workspace: one item per screen, saved by htmx, resumable, and closed to others."""

import pytest
from django.urls import reverse

from annotation import services
from annotation.models import Output, Rating

pytestmark = pytest.mark.django_db


def own_assignments(study, rater):
    return list(study.assignments.filter(rater=rater).order_by("position"))


def item_url(study, assignment):
    return reverse("rater_item", args=[study.token, assignment.token])


def test_rater_home_lists_open_studies_with_progress(rater_client, open_study):
    response = rater_client.get(reverse("rater_home"))
    assert response.status_code == 200
    assert open_study.title in response.text
    assert "0 of 4 rated" in response.text


def test_rater_home_has_an_empty_state(client, outsider):
    client.force_login(outsider)
    response = client.get(reverse("rater_home"))
    assert "No study is waiting for you" in response.text


def test_resume_goes_to_the_first_unrated_item(rater_client, open_study, rater):
    first, second = own_assignments(open_study, rater)[:2]
    response = rater_client.get(reverse("rater_resume", args=[open_study.token]))
    assert response.url == item_url(open_study, first)
    services.rating_save(assignment=first, question=open_study.questions.get(), answer=3)
    response = rater_client.get(reverse("rater_resume", args=[open_study.token]))
    assert response.url == item_url(open_study, first)  # answered, not yet submitted
    services.assignment_submit(assignment=first)
    response = rater_client.get(reverse("rater_resume", args=[open_study.token]))
    assert response.url == item_url(open_study, second)


def test_resume_after_the_last_item_says_done(rater_client, open_study, rater):
    question = open_study.questions.get()
    for assignment in own_assignments(open_study, rater):
        services.rating_save(assignment=assignment, question=question, answer=2)
        services.assignment_submit(assignment=assignment)
    response = rater_client.get(reverse("rater_resume", args=[open_study.token]))
    assert "All 4 items rated" in response.text
    review = reverse("rater_review", args=[open_study.token])
    assert f'href="{review}">Review my answers' in response.text


def test_item_screen_shows_case_beside_output(rater_client, open_study, rater):
    assignment = own_assignments(open_study, rater)[2]
    response = rater_client.get(item_url(open_study, assignment))
    output = assignment.item.output
    assert "Item 3 of 4" in response.text
    assert output.case.input_text in response.text
    assert output.text in response.text
    assert 'value="5"' in response.text
    assert "Excellent" in response.text


def test_htmx_save_returns_only_the_question_status(rater_client, open_study, rater):
    assignment = own_assignments(open_study, rater)[0]
    response = rater_client.post(
        item_url(open_study, assignment),
        {"question": "overall", "answer": "4"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="status-overall" role="status" hx-swap-oob="true"' in response.text
    # Not the progress bar: it counts submitted items, which a save does not change.
    assert 'id="progress"' not in response.text
    assert Rating.objects.get(assignment=assignment).answer == 4


def test_submit_goes_to_the_next_item_and_is_idempotent(rater_client, open_study, rater):
    first, second = own_assignments(open_study, rater)[:2]
    submit = reverse("rater_submit", args=[open_study.token, first.token])
    refused = rater_client.post(submit, {"elapsed_ms": "1500"}, follow=True)
    assert "Still to answer: How well does the summary capture the question?" in refused.text
    first.refresh_from_db()
    assert first.submitted_at is None
    assert first.time_on_task_ms == 1500
    rater_client.post(item_url(open_study, first), {"question": "overall", "answer": "4"})
    response = rater_client.post(submit, {"elapsed_ms": "2000"})
    assert response.url == item_url(open_study, second)
    first.refresh_from_db()
    submitted = first.submitted_at
    assert submitted is not None
    assert first.time_on_task_ms == 3500
    rater_client.post(submit)
    first.refresh_from_db()
    assert first.submitted_at == submitted
    page = rater_client.get(item_url(open_study, first)).text
    assert "Submitted · go to next" in page
    assert "1 of 4 rated" in page


def test_time_on_task_reports_are_capped_and_never_negative(rater_client, open_study, rater):
    first = own_assignments(open_study, rater)[0]
    url = item_url(open_study, first)
    rater_client.post(url, {"question": "overall", "answer": "4", "elapsed_ms": "-50"})
    rater_client.post(url, {"question": "overall", "answer": "3", "elapsed_ms": "99999999"})
    rater_client.post(url, {"question": "overall", "answer": "2", "elapsed_ms": "junk"})
    first.refresh_from_db()
    assert first.time_on_task_ms == 10 * 60 * 1000


def test_a_submitted_item_can_still_be_revised_and_history_keeps_both(
    rater_client, open_study, rater
):
    first = own_assignments(open_study, rater)[0]
    url = item_url(open_study, first)
    rater_client.post(url, {"question": "overall", "answer": "4"})
    rater_client.post(reverse("rater_submit", args=[open_study.token, first.token]))
    rater_client.post(url, {"question": "overall", "answer": "2"})
    rating = Rating.objects.get(assignment=first)
    assert rating.answer == 2
    assert list(rating.revisions.values_list("answer", flat=True)) == [4, 2]


def test_plain_post_without_javascript_saves_and_redirects(rater_client, open_study, rater):
    assignment = own_assignments(open_study, rater)[0]
    response = rater_client.post(
        item_url(open_study, assignment), {"question": "overall", "answer": "2"}
    )
    assert response.status_code == 302
    assert response.url == item_url(open_study, assignment)
    assert Rating.objects.get(assignment=assignment).answer == 2


def test_a_value_off_the_scale_shows_an_error_and_saves_nothing(rater_client, open_study, rater):
    assignment = own_assignments(open_study, rater)[0]
    response = rater_client.post(
        item_url(open_study, assignment),
        {"question": "overall", "answer": "9"},
        headers={"HX-Request": "true"},
    )
    assert "&#x27;9&#x27; is not a point on this question&#x27;s scale." in response.text
    assert not Rating.objects.exists()


def test_an_unknown_question_is_not_found(rater_client, open_study, rater):
    assignment = own_assignments(open_study, rater)[0]
    url = item_url(open_study, assignment)
    assert rater_client.post(url, {"question": "nope", "answer": "1"}).status_code == 404


def test_every_kind_of_question_is_shown_and_saved(rater_client, open_study, rater):
    from annotation.models import Question

    kinds = [
        ("consensus", "single_choice", "nominal", [["aligned", "Aligned"], ["opposed", "Opposed"]]),
        ("missing", "multiple_choice", "", [["dose", "Dose"], ["timing", "Timing"]]),
        ("harm", "yes_no", "nominal", []),
        ("usefulness", "number", "interval", []),
        ("comment", "text", "", []),
    ]
    for order, (key, kind, level, choices) in enumerate(kinds, start=2):
        Question.objects.create(
            study=open_study,
            key=key,
            prompt=f"Prompt for {key}",
            kind=kind,
            level=level,
            scale=[{"value": v, "label": label} for v, label in choices],
            minimum=0 if kind == "number" else None,
            maximum=10 if kind == "number" else None,
            allow_na=kind == "single_choice",
            order=order,
        )
    assignment = own_assignments(open_study, rater)[0]
    url = item_url(open_study, assignment)
    page = rater_client.get(url).text
    for key, *_ in kinds:
        assert f'id="q-{key}"' in page
    assert 'type="checkbox" name="answer" value="timing"' in page
    assert 'type="number" name="answer" step="any"' in page
    assert 'value="na" data-key="0"' in page
    posts = [
        {"question": "consensus", "answer": "na"},
        {"question": "missing", "answer": ["timing", "dose"]},
        {"question": "harm", "answer": "yes"},
        {"question": "usefulness", "answer": "7.5"},
        {"question": "comment", "answer": "Clear, but omits the dose."},
    ]
    for data in posts:
        response = rater_client.post(url, data, headers={"HX-Request": "true"})
        assert '<span class="ok">Saved</span>' in response.text, data
    saved = dict(
        Rating.objects.filter(assignment=assignment).values_list("question__key", "answer")
    )
    assert saved == {
        "consensus": "na",
        "missing": ["dose", "timing"],
        "harm": "yes",
        "usefulness": 7.5,
        "comment": "Clear, but omits the dose.",
    }
    page = rater_client.get(url).text
    assert 'value="timing"\n                   data-key="2" checked' in page
    assert "Clear, but omits the dose.</textarea>" in page
    response = rater_client.post(
        url, {"question": "usefulness", "answer": "11"}, headers={"HX-Request": "true"}
    )
    assert "The largest allowed answer is 10." in response.text


def test_rater_cannot_open_other_raters_assignment(rater_client, open_study, raters):
    others = open_study.assignments.exclude(rater=raters[0])
    for assignment in others:
        assert rater_client.get(item_url(open_study, assignment)).status_code == 404
        assert (
            rater_client.post(
                item_url(open_study, assignment), {"question": "overall", "answer": "1"}
            ).status_code
            == 404
        )
    assert not Rating.objects.exists()


def test_rater_cannot_open_a_study_they_are_not_in(client, outsider, open_study):
    client.force_login(outsider)
    assignment = open_study.assignments.first()
    assert client.get(reverse("rater_resume", args=[open_study.token])).status_code == 404
    assert client.get(item_url(open_study, assignment)).status_code == 404


def test_rater_cannot_reach_study_admin_pages(rater_client, open_study):
    for name in ("study_dashboard", "study_ratings_csv"):
        assert rater_client.get(reverse(name, args=[open_study.token])).status_code == 404
    response = rater_client.post(reverse("study_compute_agreement", args=[open_study.token]))
    assert response.status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, open_study):
    response = client.get(reverse("rater_resume", args=[open_study.token]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_hostile_output_text_is_shown_as_text(rater_client, open_study, rater):
    assignment = own_assignments(open_study, rater)[0]
    hostile = '<script>alert("x")</script>" onmouseover="alert(1)'
    Output.objects.filter(pk=assignment.item.output_id).update(text=hostile)
    response = rater_client.get(item_url(open_study, assignment))
    assert "<script>alert" not in response.text
    assert '" onmouseover="' not in response.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&quot; onmouseover=" in response.text


def test_a_rater_never_sees_another_raters_answer(client, open_study, raters):
    assignment = open_study.assignments.filter(rater=raters[1]).first()
    services.rating_save(assignment=assignment, question=open_study.questions.get(), answer=5)
    shared = open_study.assignments.exclude(rater=raters[1]).get(item=assignment.item)
    client.force_login(shared.rater)
    response = client.get(item_url(open_study, shared))
    assert "checked" not in response.text
    assert "Saved earlier" not in response.text


def test_the_reference_is_shown_only_when_the_study_says_so(rater_client, open_study, rater):
    assignment = own_assignments(open_study, rater)[0]
    case = assignment.item.output.case
    case.reference = "The expert's reference answer."
    case.save()
    url = item_url(open_study, assignment)
    assert "The expert&#x27;s reference answer." not in rater_client.get(url).text
    open_study.show_reference = True
    open_study.save()
    page = rater_client.get(url).text
    assert "Reference answer" in page
    assert "The expert&#x27;s reference answer." in page


def test_not_applicable_works_for_every_kind_that_offers_it(rater_client, open_study, rater):
    from annotation.models import Question

    for order, (key, kind, level, choices) in enumerate(
        [
            ("missing", "multiple_choice", "", [["dose", "Dose"], ["timing", "Timing"]]),
            ("usefulness", "number", "interval", []),
        ],
        start=2,
    ):
        Question.objects.create(
            study=open_study,
            key=key,
            prompt=key,
            kind=kind,
            level=level,
            allow_na=True,
            scale=[{"value": v, "label": lab} for v, lab in choices],
            order=order,
        )
    assignment = own_assignments(open_study, rater)[0]
    url = item_url(open_study, assignment)
    page = rater_client.get(url).text
    assert 'type="checkbox" name="answer" value="na"' in page
    hx = {"HX-Request": "true"}

    def saved(key):
        return Rating.objects.get(assignment=assignment, question__key=key).answer

    rater_client.post(url, {"question": "missing", "answer": ["na"]}, headers=hx)
    assert saved("missing") == "na"
    response = rater_client.post(url, {"question": "missing", "answer": ["na", "dose"]}, headers=hx)
    assert "Tick any of" in response.text
    rater_client.post(url, {"question": "usefulness", "answer": ["", "na"]}, headers=hx)
    assert saved("usefulness") == "na"
    rater_client.post(url, {"question": "usefulness", "answer": ["7", "na"]}, headers=hx)
    assert saved("usefulness") == 7.0  # a typed number wins over a stale tick
