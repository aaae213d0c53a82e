"""Corrected outputs: the question kind, the rater's box and its answers, as the server sees
them (the diff and distances computed here, the original counting only once accepted)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotation import services
from annotation.core import judging, rubric
from annotation.models import Question, Rating, Study

CORRECTION = rubric.QuestionDraft(
    key="corrected", prompt="Edit it into what you would sign", kind="correction", level="ratio"
)


def _spec(original: str) -> rubric.QuestionSpec:
    return rubric.QuestionSpec(kind=rubric.CORRECTION, original=original)


def test_a_correction_is_stored_with_its_diff_and_distances():
    answer = rubric.parse_answer(_spec("Take 5 mg daily."), "Take 10 mg daily.")
    assert answer == {
        "text": "Take 10 mg daily.",
        "diff": [
            {"op": "equal", "a": [0, 4], "b": [0, 4]},
            {"op": "replace", "a": [5, 6], "b": [5, 7]},
            {"op": "equal", "a": [7, 16], "b": [8, 17]},
        ],
        "chars": 2,
        "words": 1,
        "original_words": 4,
    }
    assert rubric.numeric_code(_spec("Take 5 mg daily."), answer) == pytest.approx(0.25)


def test_a_diff_sent_by_the_client_is_recomputed_not_trusted():
    forged = {"text": "Take 10 mg daily.", "diff": [], "chars": 0, "words": 0}
    answer = rubric.parse_answer(_spec("Take 5 mg daily."), forged)
    assert (answer["chars"], answer["words"], len(answer["diff"])) == (2, 1, 3)


def test_the_original_counts_only_once_the_rater_accepts_it():
    spec = _spec("Fine as it is.\r\n")
    assert rubric.parse_answer(spec, {"text": "Fine as it is.\n", "accepted": False}) == ""
    accepted = rubric.parse_answer(spec, {"text": "Fine as it is.\n", "accepted": True})
    assert (accepted["chars"], rubric.numeric_code(spec, accepted)) == (0, 0.0)
    # The API and imports send the text itself: a deliberate answer.
    assert rubric.parse_answer(spec, "Fine as it is.\n")["chars"] == 0


@pytest.mark.parametrize("loose", ["false", "true", 1, 0, None, [True]])
def test_only_json_true_accepts_the_original(loose):
    spec = _spec("Fine as it is.")
    assert rubric.parse_answer(spec, {"text": "Fine as it is.", "accepted": loose}) == ""
    # An edited text is an answer whatever the flag says.
    edited = rubric.parse_answer(spec, {"text": "Fine as is.", "accepted": loose})
    assert edited["words"] == 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (5, "The corrected text must be text."),
        (["a"], "The corrected text must be text."),
        ("x\x00y", "An answer cannot contain a NUL character."),
        ("x" * 5001, "At most 5000 characters for this corrected text."),
    ],
)
def test_bad_corrections_are_refused(raw, message):
    with pytest.raises(rubric.AnswerError, match=message):
        rubric.parse_answer(_spec("short"), raw)


def test_a_long_output_may_be_corrected_at_length():
    original = "word " * 3000
    assert rubric.correction_max(original) == 20000
    answer = rubric.parse_answer(_spec(original), original + "more " * 100)
    assert answer["words"] == 100


def test_typed_na_and_an_empty_box_are_text_not_answers_of_their_own():
    assert rubric.parse_answer(_spec("x"), "na")["text"] == "na"
    assert rubric.parse_answer(_spec("x"), "   ") == ""
    with pytest.raises(rubric.AnswerError, match="not applicable"):
        rubric.check_spec(rubric.QuestionSpec(kind="correction", allow_na=True), "ratio")
    with pytest.raises(rubric.AnswerError, match="analysed as: ratio, interval"):
        rubric.check_spec(_spec(""), "ordinal")


@pytest.mark.django_db
@pytest.mark.parametrize("design", [Study.Design.PAIRWISE, Study.Design.RANKING])
def test_a_correction_is_refused_where_outputs_are_compared(study_admin, design):
    study = services.study_create(
        creator=study_admin, title="Compare", question_prompt="Which?", design=design
    )
    with pytest.raises(ValidationError, match="A correction edits one output"):
        services.question_add(study=study, draft=CORRECTION)
    assert not study.questions.filter(kind="correction").exists()


@pytest.fixture
def correction_study(draft_study) -> Study:
    services.question_add(study=draft_study, draft=CORRECTION)
    services.study_open(study=draft_study)
    draft_study.refresh_from_db()
    return draft_study


def _item(client, study, rater):
    assignment = study.assignments.filter(rater=rater).order_by("position").first()
    client.force_login(rater)
    return assignment, reverse("rater_item", args=[study.token, assignment.token])


def _post(client, url, text, accepted=""):
    return client.post(
        url,
        {"question": "corrected", "answer": text, "accepted": accepted},
        headers={"HX-Request": "true"},
    )


@pytest.mark.django_db
def test_the_box_starts_with_the_output_escaped_and_is_no_answer_until_accepted(
    client, correction_study, raters
):
    assignment, url = _item(client, correction_study, raters[0])
    output = assignment.item.output
    output.text = "Use <b>5 mg</b> & rest."
    output.save(update_fields=["text"])
    page = client.get(url).text
    assert 'data-original="Use &lt;b&gt;5 mg&lt;/b&gt; &amp; rest."' in page
    assert ">\nUse &lt;b&gt;5 mg&lt;/b&gt; &amp; rest.</textarea>" in page
    assert "Not answered yet: edit the text, or accept it unchanged." in page
    # The untouched text posted without "accepted" (a reset, say) stores no answer.
    _post(client, url, output.text)
    assert Rating.objects.get().answer == ""
    response = _post(client, url, output.text, accepted="1")
    assert response.headers["X-Answer-Saved"]
    rating = Rating.objects.get()
    assert (rating.answer["chars"], rating.value) == (0, 0.0)
    page = client.get(url).text
    assert 'name="accepted" value="1"' in page
    assert "Accepted unchanged." in page


@pytest.mark.django_db
def test_an_edit_is_saved_with_its_rate_and_shown_back_to_its_rater(
    client, correction_study, raters
):
    assignment, url = _item(client, correction_study, raters[0])
    original = assignment.item.output.text
    _post(client, url, original + " Ask a pharmacist.", accepted="1")  # typed after accepting
    rating = Rating.objects.get()
    assert rating.answer["text"] == original + " Ask a pharmacist."
    assert rating.answer["words"] == 3
    assert rating.value == pytest.approx(3 / len(original.split()))
    page = client.get(url).text
    assert f">\n{original} Ask a pharmacist.</textarea>" in page
    assert "Edited." in page
    answers = client.get(
        reverse("rater_answers", args=[correction_study.token, assignment.token])
    ).json()["answers"]
    assert answers["corrected"]["fields"] == {"answer": [original + " Ask a pharmacist."]}


@pytest.mark.django_db
def test_a_submit_needs_the_correction_answered(client, correction_study, raters):
    assignment, url = _item(client, correction_study, raters[0])
    client.post(url, {"question": "overall", "answer": "4"}, headers={"HX-Request": "true"})
    with pytest.raises(ValidationError, match="Edit it into what you would sign"):
        services.assignment_submit(assignment=assignment)
    _post(client, url, assignment.item.output.text, accepted="1")
    assert services.assignment_submit(assignment=assignment).submitted_at is not None


@pytest.mark.django_db
def test_side_by_side_each_response_has_its_own_correction(study_admin, raters, client):
    study = services.study_create(
        creator=study_admin, title="SbS", question_prompt="Good?", design="side_by_side", seed=4
    )
    services.question_add(study=study, draft=CORRECTION)
    rows = "case_id,input,source,output\nc1,Q,A,First answer.\nc1,Q,B,Second answer.\n"
    services.study_import_file(study=study, filename="s.csv", content=rows.encode())
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    assignment, url = _item(client, study, raters[0])
    shown = [o.text for o in assignment.shown_outputs()]
    page = client.get(url).text
    assert page.count("data-correction ") == 2
    for letter, text in zip("AB", shown, strict=True):
        assert f'aria-label="Response {letter}: corrected text"' in page
        client.post(
            url,
            {"question": "corrected", "about": letter, "answer": text + " Edited."},
            headers={"HX-Request": "true"},
        )
    stored = {
        r.output.text: r.answer["text"] for r in Rating.objects.filter(question__key="corrected")
    }
    assert stored == {text: text + " Edited." for text in shown}
    assert Question.objects.get(study=study, key="corrected").kind == "correction"


def test_judges_leave_corrections_to_people():
    assert rubric.CORRECTION not in judging.JUDGED_KINDS
    assert rubric.CORRECTION in rubric.KINDS


@pytest.mark.django_db
def test_admins_read_each_correction_as_an_escaped_diff_without_its_source(
    client, correction_study, raters, study_admin
):
    assignment, url = _item(client, correction_study, raters[0])
    output = assignment.item.output
    output.text = "Give 5 mg of <i>aspirin</i>."
    output.save(update_fields=["text"])
    _post(client, url, "Give 75 mg <i>aspirin</i>.")
    second = correction_study.assignments.filter(rater=raters[0]).order_by("position")[1]
    second_url = reverse("rater_item", args=[correction_study.token, second.token])
    _post(client, second_url, second.item.output.text, accepted="1")
    client.force_login(study_admin)
    page_url = reverse("study_corrections", args=[correction_study.token])
    page = client.get(page_url).text
    assert "(2 corrections, 1 accepted unchanged)" in page
    assert page.count("<em>Accepted unchanged.</em>") == 1
    assert "Give <del>5</del><ins>75</ins> mg <del>of </del>&lt;i&gt;aspirin&lt;/i&gt;." in page
    assert "4 characters and 2 words edited (0.40 per word of the original)" in page
    assert output.source.label not in page  # blinded while rating goes on
    dashboard = client.get(reverse("study_dashboard", args=[correction_study.token])).text
    assert dashboard.count(f'hx-get="{page_url}"') == 1


@pytest.mark.django_db
def test_raters_and_outsiders_never_reach_the_corrections(
    client, correction_study, raters, outsider
):
    page_url = reverse("study_corrections", args=[correction_study.token])
    for user in (raters[0], raters[1], outsider):
        client.force_login(user)
        assert client.get(page_url).status_code == 404
        assert client.get(page_url, headers={"HX-Request": "true"}).status_code == 404


def test_a_training_correction_matches_the_expected_text():
    spec = _spec("Take 5 mg.")
    given = rubric.parse_answer(spec, "Take 10 mg.\r\n")
    assert rubric.matches_expected(spec, given, None, ["Take 10 mg.\n"])
    assert not rubric.matches_expected(spec, given, None, ["Take 5 mg."])
    assert not rubric.matches_expected(spec, "", None, [""])


@pytest.mark.django_db
def test_imported_corrections_are_compared_with_the_study_s_outputs(study_admin):
    from annotation.services.external_ratings import study_import_ratings
    from tests.conftest import STUDY_ROWS

    study = services.study_create(creator=study_admin, title="Imported", question_prompt="Q?")
    services.question_add(study=study, draft=CORRECTION)
    services.study_import_file(study=study, filename="study.csv", content=STUDY_ROWS)
    rows = (
        "rater,case_id,question,value,source\n"
        "r1,c1,corrected,Does lisinopril cause a cough?,MedSumm-7B\n"
        'r2,c1,corrected,"Does lisinopril cause cough?",MedSumm-7B\n'
    )
    assert study_import_ratings(study=study, filename="r.csv", content=rows.encode()) == 2
    stored = {r.answer["text"]: r for r in Rating.objects.all()}
    edited = stored["Does lisinopril cause a cough?"]
    assert edited.answer["words"] == 1  # "cause cough?" -> "cause a cough?"
    assert edited.value == pytest.approx(1 / 4)
    same = stored["Does lisinopril cause cough?"]
    assert (same.answer["chars"], same.value) == (0, 0.0)


@pytest.mark.django_db
def test_a_correction_of_an_output_without_text_is_refused_whole(study_admin):
    from annotation.core.importing import ImportRejected
    from annotation.services.external_ratings import study_import_ratings

    study = services.study_create(creator=study_admin, title="No outputs", question_prompt="Q?")
    services.question_add(study=study, draft=CORRECTION)
    rows = "rater,case_id,question,value,source\nr1,c1,corrected,Some text.,M\n"
    with pytest.raises(ImportRejected) as caught:
        study_import_ratings(study=study, filename="r.csv", content=rows.encode())
    assert [str(p) for p in caught.value.problems] == [
        "r.csv, row 2, field 'value': a correction needs the output's text: import the "
        "study's outputs before the corrections"
    ]
    assert not Rating.objects.exists()


@pytest.mark.django_db
def test_the_api_adds_a_correction_question_where_it_fits_and_says_why_not(client, study_admin):
    import json

    from rest_framework.authtoken.models import Token

    headers = {"Authorization": f"Token {Token.objects.create(user=study_admin).key}"}
    body = {"key": "corrected", "prompt": "Edit it", "kind": "correction", "level": "ratio"}
    made = {}
    for design in ("absolute", "pairwise"):
        study = services.study_create(
            creator=study_admin, title=design, question_prompt="Q?", design=design
        )
        made[design] = client.post(
            f"/api/v1/studies/{study.token}/questions/",
            json.dumps(body),
            content_type="application/json",
            headers=headers,
        )
    assert made["absolute"].status_code == 201
    assert made["pairwise"].status_code == 400
    assert "A correction edits one output" in made["pairwise"].content.decode()


@pytest.mark.django_db
def test_once_locked_each_correction_names_its_source_for_the_admins(
    client, correction_study, raters, study_admin
):
    assignment, url = _item(client, correction_study, raters[0])
    _post(client, url, assignment.item.output.text + " More.")
    services.study_lock(study=correction_study)
    client.force_login(study_admin)
    page = client.get(reverse("study_corrections", args=[correction_study.token])).text
    assert f'<span class="comment-sources">{assignment.item.output.source.label}</span>' in page
    assert "Shown without their sources" not in page


def test_an_empty_text_counts_only_when_confirmed():
    spec = _spec("Wrong advice.")
    for unconfirmed in ("", "  ", {"text": ""}, {"text": "", "accepted": False}):
        assert rubric.parse_answer(spec, unconfirmed) == ""
    deleted = rubric.parse_answer(spec, {"text": "", "accepted": True})
    assert (deleted["text"], deleted["chars"], deleted["words"]) == ("", 13, 2)
    assert rubric.numeric_code(spec, deleted) == 1.0


@pytest.mark.django_db
def test_an_empty_output_can_be_accepted_unchanged(client, correction_study, raters):
    assignment, url = _item(client, correction_study, raters[0])
    output = assignment.item.output
    output.text = ""
    output.save(update_fields=["text"])
    _post(client, url, "")
    assert not Rating.objects.exclude(answer="").exists()
    response = _post(client, url, "", accepted="1")
    assert response.headers["X-Answer-Saved"]
    rating = Rating.objects.get()
    assert (rating.answer["text"], rating.answer["chars"], rating.value) == ("", 0, 0.0)
    assert "Accepted unchanged." in client.get(url).text
