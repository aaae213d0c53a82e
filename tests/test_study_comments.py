"""The raters' free-text answers on the dashboard: per question, newest first, for the study's
admins only; blind to sources while rating goes on, by source once the study is locked."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation import selectors, services
from annotation.core import rubric
from annotation.models import Question, Study

pytestmark = pytest.mark.django_db

SOURCES = ("Expert-written summary", "MedSumm-7B")


@pytest.fixture
def commented(draft_study) -> Study:
    """An open study whose raters have each left a comment on every item of theirs (and one
    an empty answer, which is no comment)."""
    services.question_add(
        study=draft_study,
        draft=rubric.QuestionDraft(
            key="comment", prompt="Anything else?", kind="text", level="", required=False
        ),
    )
    services.study_open(study=draft_study)
    draft_study.refresh_from_db()
    question = draft_study.questions.get(key="comment")
    assignments = draft_study.assignments.select_related("item__output__case").order_by("pk")
    for number, assignment in enumerate(assignments, start=1):
        services.rating_save(
            assignment=assignment, question=question, answer=f"Remark {number} <b>bold</b>"
        )
    services.rating_save(assignment=assignments[0], question=question, answer="Remark 1, edited")
    last = assignments.last()
    services.rating_save(assignment=last, question=question, answer="")  # emptied: no comment
    return draft_study


def expected_remarks(study: Study, *, source: str = "") -> list[str]:
    """The comment texts, newest first, about one source's outputs or all."""
    question = study.questions.get(key="comment")
    ratings = question.ratings.exclude(answer="").select_related("assignment__item__output")
    if source:
        ratings = ratings.filter(assignment__item__output__source__label=source)
    return [r.answer for r in ratings.order_by("-updated_at", "-pk")]


def test_comments_are_listed_per_text_question_newest_first_with_case_and_rater(commented):
    [listed] = selectors.study_comments(study=commented)
    assert (listed.key, listed.prompt) == ("comment", "Anything else?")
    assert [c.text for c in listed.comments] == expected_remarks(commented)
    assert listed.comments[0].text == "Remark 1, edited"  # the latest change comes first
    first = commented.assignments.order_by("pk").select_related("item__output__case").first()
    pseudonym = commented.memberships.get(user=first.rater).pseudonym
    assert (listed.comments[0].case_id, listed.comments[0].rater) == (
        first.item.output.case.external_id,
        pseudonym,
    )
    assert listed.total == commented.assignments.count() - 1


def test_while_the_study_runs_comments_name_no_source_and_the_filter_is_refused(commented):
    [listed] = selectors.study_comments(study=commented)
    assert all(c.sources == () for c in listed.comments)
    assert selectors.study_comment_sources(study=commented) == []
    with pytest.raises(PermissionDenied):
        selectors.study_comments(study=commented, source="MedSumm-7B")


def test_once_locked_comments_name_their_source_and_filter_by_it(commented):
    services.study_lock(study=commented)
    assert selectors.study_comment_sources(study=commented) == list(SOURCES)
    [listed] = selectors.study_comments(study=commented)
    assert {c.sources for c in listed.comments} == {(label,) for label in SOURCES}
    [model_only] = selectors.study_comments(study=commented, source="MedSumm-7B")
    assert [c.text for c in model_only.comments] == expected_remarks(commented, source="MedSumm-7B")
    assert {c.sources for c in model_only.comments} == {("MedSumm-7B",)}
    assert model_only.total < listed.total


def test_a_long_list_is_capped_until_all_are_asked_for(commented, monkeypatch):
    monkeypatch.setattr(selectors.comments, "COMMENTS_SHOWN", 2)
    [capped] = selectors.study_comments(study=commented)
    assert len(capped.comments) == 2
    assert capped.total == len(expected_remarks(commented)) > 2
    [everything] = selectors.study_comments(study=commented, show_all=True)
    assert [c.text for c in everything.comments] == expected_remarks(commented)


def test_not_applicable_is_no_comment(commented):
    question = commented.questions.get(key="comment")
    Question.objects.filter(pk=question.pk).update(allow_na=True)
    assignment = commented.assignments.order_by("pk")[1]
    services.rating_save(assignment=assignment, question=question, answer=rubric.NA)
    [listed] = selectors.study_comments(study=commented)
    assert rubric.NA not in [c.text for c in listed.comments]
    assert listed.total == len(expected_remarks(commented)) - 1


def test_a_pair_names_its_sources_as_the_rater_saw_them(study_admin, raters):
    study = services.study_create(
        creator=study_admin,
        title="Pairs",
        question_prompt="Which is better?",
        raters_per_item=2,
        design=Study.Design.PAIRWISE,
        seed=77,
    )
    rows = "".join(f"c{n},Question {n},{s},Answer {n} by {s}\n" for n in range(3) for s in "XYZ")
    content = ("case_id,input,source,output\n" + rows).encode()
    services.study_import_file(study=study, filename="pairs.csv", content=content)
    services.question_add(
        study=study,
        draft=rubric.QuestionDraft(key="why", prompt="Why?", kind="text", level=""),
    )
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    question = study.questions.get(key="why")
    assignments = list(study.assignments.select_related("item__output__source", "item__output_b"))
    for assignment in assignments:
        services.rating_save(assignment=assignment, question=question, answer=f"a{assignment.pk}")
    services.study_lock(study=study)
    [listed] = selectors.study_comments(study=study, show_all=True)
    by_text = {c.text: c.sources for c in listed.comments}
    flipped = next(a for a in assignments if a.flipped)
    first, second = flipped.item.output.source.label, flipped.item.output_b.source.label
    assert by_text[f"a{flipped.pk}"] == (f"A: {second}", f"B: {first}")
    [about_z] = selectors.study_comments(study=study, source="Z", show_all=True)
    assert {c.text for c in about_z.comments} == {
        text for text, sources in by_text.items() if any(s.endswith(": Z") for s in sources)
    }
    assert 0 < about_z.total < listed.total


def test_side_by_side_a_comment_on_one_response_names_that_responses_source(study_admin, raters):
    study = services.study_create(
        creator=study_admin,
        title="Sets",
        question_prompt="How good?",
        raters_per_item=1,
        design=Study.Design.SIDE_BY_SIDE,
        seed=5,
    )
    rows = "".join(f"c{n},Question {n},{s},Answer {n} by {s}\n" for n in range(2) for s in "XYZ")
    content = ("case_id,input,source,output\n" + rows).encode()
    services.study_import_file(study=study, filename="sets.csv", content=content)
    services.question_add(
        study=study, draft=rubric.QuestionDraft(key="note", prompt="Note", kind="text", level="")
    )
    services.study_add_raters(study=study, users=raters[:1])
    services.study_open(study=study)
    question = study.questions.get(key="note")
    for assignment in study.assignments.all():
        for place, output in enumerate(assignment.shown_outputs()):
            text = f"on {output.source.label} in {output.case.external_id}"
            services.rating_save(assignment=assignment, question=question, answer=text, shown=place)
    services.study_lock(study=study)
    [listed] = selectors.study_comments(study=study)
    assert listed.total == 6
    assert all(c.sources == (c.text.split()[1],) for c in listed.comments)
    [about_y] = selectors.study_comments(study=study, source="Y")
    assert sorted(c.text for c in about_y.comments) == ["on Y in c0", "on Y in c1"]


def test_reading_comments_takes_as_many_queries_for_all_as_for_a_few(
    commented, monkeypatch, django_assert_max_num_queries
):
    services.study_lock(study=commented)
    monkeypatch.setattr(selectors.comments, "COMMENTS_SHOWN", 2)
    with CaptureQueriesContext(connection) as few:
        selectors.study_comments(study=commented)
    with django_assert_max_num_queries(len(few)):
        [everything] = selectors.study_comments(study=commented, show_all=True)
    assert len(everything.comments) > 2


# --- the page and its partial ----------------------------------------------------------------


def comments_url(study: Study, query: str = "") -> str:
    return reverse("study_comments", args=[study.token]) + query


def test_only_the_studys_admins_read_comments(client, commented, raters, outsider):
    for user in (outsider, raters[0]):
        client.force_login(user)
        assert client.get(comments_url(commented)).status_code == 404
        assert client.get(comments_url(commented, "?source=MedSumm-7B")).status_code == 404
    client.logout()
    assert client.get(comments_url(commented)).status_code == 302  # to the login page


def test_the_blinded_page_shows_comments_escaped_and_no_source(client, study_admin, commented):
    client.force_login(study_admin)
    page = client.get(comments_url(commented)).content.decode()
    assert "Remark 1, edited" in page
    assert "Remark 2 &lt;b&gt;bold&lt;/b&gt;" in page
    assert "<b>bold</b>" not in page
    for label in SOURCES:
        assert label not in page
    assert 'name="source"' not in page
    assert client.get(comments_url(commented, "?source=MedSumm-7B")).status_code == 403


def test_the_unblinded_page_filters_by_source(client, study_admin, commented):
    services.study_lock(study=commented)
    client.force_login(study_admin)
    page = client.get(comments_url(commented)).content.decode()
    assert '<option value="MedSumm-7B">MedSumm-7B</option>' in page
    filtered = client.get(comments_url(commented, "?source=MedSumm-7B")).content.decode()
    for remark in expected_remarks(commented, source="MedSumm-7B"):
        assert remark.replace("<", "&lt;").replace(">", "&gt;") in filtered
    for remark in expected_remarks(commented, source="Expert-written summary"):
        assert remark.replace("<", "&lt;").replace(">", "&gt;") not in filtered
    assert client.get(comments_url(commented, "?source=Nobody")).status_code == 400


def test_an_htmx_request_gets_the_list_alone_with_show_all(
    client, study_admin, commented, monkeypatch
):
    monkeypatch.setattr(selectors.comments, "COMMENTS_SHOWN", 2)
    client.force_login(study_admin)
    response = client.get(comments_url(commented), headers={"HX-Request": "true"})
    partial = response.content.decode()
    assert "<html" not in partial
    assert 'id="comments-list"' in partial
    total = len(expected_remarks(commented))
    assert f"Show all {total}</a>" in partial
    everything = client.get(
        comments_url(commented, "?question=comment&all=1"), headers={"HX-Request": "true"}
    ).content.decode()
    assert "Show all" not in everything
    assert everything.count('class="comment-text"') == total


def test_the_dashboard_loads_the_comments_card(client, study_admin, commented):
    client.force_login(study_admin)
    page = client.get(reverse("study_dashboard", args=[commented.token])).content.decode()
    assert f'hx-get="{comments_url(commented)}" hx-trigger="load"' in page
