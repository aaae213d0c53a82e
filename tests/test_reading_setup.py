"""Assisted reading, set-up: the study page and API create a study with its answer question
and unassisted arm, add arms, and the reader pages show each arm as it should be shown."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.authtoken.models import Token

from annotation import services
from annotation.models import Arm, Question, Study
from tests.reading_support import reading_study

pytestmark = pytest.mark.django_db


def _api(client, user, url: str, body: dict | None = None):
    headers = {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}
    if body is None:
        return client.get(url, headers=headers)
    return client.post(url, body, content_type="application/json", headers=headers)


def test_the_page_creates_a_reading_study(client, study_admin):
    client.force_login(study_admin)
    assert client.get(reverse("reading_study_new")).status_code == 200
    refused = client.post(
        reverse("reading_study_new"),
        {"title": "DDx", "layout": "sequential", "answer_kind": "ranked", "prompt": "Dx", "k": ""},
    )
    assert refused.status_code == 400
    assert "A ranked list needs k" in refused.text
    response = client.post(
        reverse("reading_study_new"),
        {"title": "DDx", "layout": "sequential", "answer_kind": "ranked", "prompt": "Dx", "k": 5},
    )
    study = Study.objects.get(title="DDx")
    assert response.url == reverse("study_dashboard", args=[study.token])
    question = study.questions.get()
    assert (question.kind, question.answer_kind, question.k) == ("answer", "ranked", 5)
    assert list(study.arms.values_list("key", "kind")) == [("unassisted", "unassisted")]


def test_the_dashboard_adds_arms_and_lists_them(client, study_admin, raters):
    study = reading_study(study_admin, raters[:1])
    client.force_login(study_admin)
    url = reverse("reading_arm_add", args=[study.token])
    tool = {"key": "search", "kind": "tool", "description": "Search the web"}
    added = client.post(url, tool, follow=True)
    assert [str(m) for m in added.context["messages"]] == ["Arm 'search' added."]
    bad = client.post(url, {"key": "bad key", "kind": "tool", "description": "x"}, follow=True)
    (said,) = [str(m) for m in bad.context["messages"]]
    assert said.startswith("key: ")  # the field named, nothing added
    page = client.get(reverse("study_dashboard", args=[study.token])).text
    assert "“Search the web”" in page
    assert "the output as “Assistant”" in page
    assert sorted(study.arms.values_list("key", flat=True)) == ["llm", "search", "unassisted"]


def test_the_api_creates_a_study_and_its_arms(client, study_admin, raters, outsider):
    body = {"title": "API", "layout": "sequential", "answer_kind": "number", "prompt": "Dose?"}
    response = _api(client, study_admin, "/api/v1/reading-studies/", body)
    assert response.status_code == 201, response.content
    study = Study.objects.get(token=response.json()["token"])
    assert study.questions.get().answer_kind == "number"
    assert _api(client, outsider, "/api/v1/reading-studies/", body).status_code == 403
    arms = f"/api/v1/studies/{study.token}/arms/"
    bad = _api(client, study_admin, arms, {"key": "t", "kind": "tool", "description": ""})
    assert bad.status_code == 400
    assert "Say what readers use" in bad.text
    made = _api(client, study_admin, arms, {"key": "t", "kind": "tool", "description": "A book"})
    assert made.status_code == 201, made.content
    listed = _api(client, study_admin, arms).json()
    assert [(a["key"], a["kind"]) for a in listed] == [("t", "tool"), ("unassisted", "unassisted")]
    assert _api(client, raters[0], arms).status_code == 404  # not a member


def _assisted_page(client, study, rater) -> str:
    first, second = study.assignments.filter(rater=rater).order_by("position")[:2]
    question = study.questions.get(kind=Question.Kind.ANSWER)
    services.rating_save(assignment=first, question=question, answer=["Pneumonia"])
    services.assignment_submit(assignment=first)
    client.force_login(rater)
    return client.get(reverse("rater_item", args=[study.token, second.token])).text


def test_a_named_arm_shows_its_source_label(client, study_admin, raters):
    study = reading_study(study_admin, raters[:1], named=True)
    services.study_open(study=study)
    page = _assisted_page(client, study, raters[0])
    assert ">Model X<" in page
    assert "Your locked answer without assistance:" in page
    assert "1. Pneumonia" in page


def test_a_tool_arm_shows_its_description_and_no_output(client, study_admin, raters):
    study = reading_study(study_admin, raters[:1])
    Arm.objects.filter(study=study, key="llm").delete()
    services.arm_add(study=study, key="search", kind="tool", description="Use <b>search</b>")
    services.study_open(study=study)
    page = _assisted_page(client, study, raters[0])
    assert "Use &lt;b&gt;search&lt;/b&gt;" in page  # escaped, as the admin wrote it
    assert "Differential:" not in page
    assert "Unsure." not in page


def test_the_unassisted_page_offers_k_rows_and_a_lock(client, study_admin, raters):
    study = reading_study(study_admin, raters[:1])
    services.study_open(study=study)
    first = study.assignments.filter(rater=raters[0]).order_by("position").first()
    client.force_login(raters[0])
    page = client.get(reverse("rater_item", args=[study.token, first.token])).text
    assert [f'name="entry-{n}"' in page for n in (1, 2, 3, 4)] == [True, True, True, False]
    assert "Lock my answer" in page
    assert "Assistant" not in page


def test_readers_cannot_join_an_open_reading_study(study_admin, raters):
    study = reading_study(study_admin, raters[:1])
    services.study_open(study=study)
    with pytest.raises(ValidationError, match="assisted-reading study"):
        services.study_add_raters(study=study, users=[raters[1]])


def test_the_api_lists_every_read_with_its_arm_and_score(client, study_admin, raters):
    study = reading_study(study_admin, raters[:1])
    services.study_open(study=study)
    first, second = study.assignments.filter(rater=raters[0]).order_by("position")[:2]
    question = study.questions.get(kind=Question.Kind.ANSWER)
    services.rating_save(assignment=first, question=question, answer=["PE", "MI"])
    services.assignment_submit(assignment=first)
    page = _api(client, study_admin, f"/api/v1/studies/{study.token}/reads/").json()
    assert (page["count"], page["next"]) == (8, None)
    rows = page["results"]
    case = first.item.output.case.external_id
    expected_rank = {"c1": 1, "c2": 2}.get(case)
    head = [(r["arm"], r["phase"], r["case_id"], r["answer"], r["rank"]) for r in rows[:2]]
    assert head == [
        ("unassisted", 1, case, ["PE", "MI"], expected_rank),
        ("llm", 2, case, ["PE", "MI"], expected_rank),
    ]
    assert rows[0]["rater"] == "R1"
    assert rows[0]["locked_at"] is not None
    assert _api(client, raters[0], f"/api/v1/studies/{study.token}/reads/").status_code == 403


def test_an_open_reading_study_moves_no_reads_between_readers(study_admin, raters):
    study = reading_study(study_admin, raters[:2])
    services.study_open(study=study)
    with pytest.raises(ValidationError, match="cannot move to other readers"):
        services.assignments_reassign(study=study, rater=raters[0])
    with pytest.raises(ValidationError, match="cannot move to other readers"):
        services.rater_remove(study=study, pseudonym="R2")
    assert study.assignments.filter(rater=raters[1]).count() == 8


def test_the_study_api_carries_the_reading_fields(client, study_admin, raters):
    study = reading_study(study_admin, raters[:1])
    services.study_open(study=study)
    base = f"/api/v1/studies/{study.token}"
    cases = _api(client, study_admin, f"{base}/cases/").json()["results"]
    c1 = next(case for case in cases if case["case_id"] == "c1")
    assert c1["accepted_answers"] == [{"answer": "Pulmonary embolism", "synonyms": ["PE"]}]
    assert (c1["expected_value"], c1["tolerance"]) == (None, None)
    [question] = _api(client, study_admin, f"{base}/questions/").json()["results"]
    assert (question["kind"], question["answer_kind"], question["k"]) == ("answer", "ranked", 3)
    rows = _api(client, study_admin, f"{base}/assignments/").json()["results"]
    assert sorted({(r["arm"], r["phase"], r["session"]) for r in rows}) == [
        ("llm", 2, 1),
        ("unassisted", 1, 1),
    ]


def test_the_reads_are_paged_in_a_stable_order(client, study_admin, raters):
    study = reading_study(study_admin, raters[:2])
    services.study_open(study=study)
    url = f"/api/v1/studies/{study.token}/reads/?page_size=3"
    pages, seen = [], []
    while url:
        page = _api(client, study_admin, url).json()
        assert page["count"] == 16  # 2 readers x 4 cases x 2 arms
        pages.append(len(page["results"]))
        seen += [(r["rater"], r["position"]) for r in page["results"]]
        url = page["next"]
    assert pages == [3, 3, 3, 3, 3, 1]
    # Every read once, each reader's in their order (readers by account, as added).
    pseudonyms = dict(study.memberships.values_list("user_id", "pseudonym"))
    expected = [
        (pseudonyms[rater_id], position)
        for rater_id, position in study.assignments.order_by("rater_id", "position").values_list(
            "rater_id", "position"
        )
    ]
    assert seen == expected
    assert len(set(seen)) == 16
    again = _api(client, study_admin, f"/api/v1/studies/{study.token}/reads/?page_size=16")
    assert [(r["rater"], r["position"]) for r in again.json()["results"]] == seen


# --- the crossover layout, offered on the page and the API ---------------------------------------


def _crossover(**changes) -> dict:
    body = {
        "title": "DDx crossover",
        "layout": "crossover",
        "answer_kind": "ranked",
        "prompt": "Dx",
        "k": 5,
        "washout_days": 28,
    }
    return {**body, **changes}


def test_the_service_creates_a_crossover_study_with_its_washout(study_admin):
    study = services.reading_study_create(
        creator=study_admin,
        title="X",
        layout="crossover",
        answer_kind="text",
        prompt="Dx",
        washout_days=0,
    )
    assert (study.reading_layout, study.washout_days) == ("crossover", 0)
    for layout, washout, message in [
        ("crossover", None, "A crossover study needs a washout"),
        ("crossover", -1, "0 or more"),
        ("sequential", 14, "Only a crossover study has a washout"),
    ]:
        with pytest.raises(ValidationError, match=message) as raised:
            services.reading_study_create(
                creator=study_admin,
                title="Refused",
                layout=layout,
                answer_kind="text",
                prompt="Dx",
                washout_days=washout,
            )
        assert set(raised.value.message_dict) == {"washout_days"}
    assert not Study.objects.filter(title="Refused").exists()


def test_the_page_creates_a_crossover_study_and_the_dashboard_says_its_washout(client, study_admin):
    client.force_login(study_admin)
    form = client.get(reverse("reading_study_new")).text
    assert 'value="crossover"' in form
    assert "seeded Williams design" in form
    for washout, message in [
        ("", "A crossover study needs a washout"),
        ("-3", "The washout is a whole number of days, 0 or more."),
        ("2.5", "The washout is a whole number of days, 0 or more."),
        ("366", "less than or equal to 365"),
    ]:
        refused = client.post(reverse("reading_study_new"), _crossover(washout_days=washout))
        assert refused.status_code == 400, washout
        assert message in refused.text, washout
        assert 'id="id_washout_days_error"' in refused.text  # the field's own error
    sequential = client.post(
        reverse("reading_study_new"), _crossover(layout="sequential", title="Seq")
    )
    assert sequential.status_code == 400
    assert "Only a crossover study has a washout" in sequential.text
    assert not Study.objects.exists()
    response = client.post(reverse("reading_study_new"), _crossover())
    study = Study.objects.get(title="DDx crossover")
    assert response.url == reverse("study_dashboard", args=[study.token])
    assert (study.reading_layout, study.washout_days) == ("crossover", 28)
    dashboard = client.get(response.url).text
    assert "Arms (assisted reading, crossover)" in dashboard
    assert "Washout: 28 days after a reader finishes one session" in dashboard
    body = _crossover(layout="sequential", title="S", washout_days="")
    plain = client.post(reverse("reading_study_new"), body)
    assert Study.objects.get(title="S").washout_days == 0
    assert "One session: each case unassisted" in client.get(plain.url).text


def test_the_api_creates_a_crossover_study_with_its_washout(client, study_admin):
    url = "/api/v1/reading-studies/"
    made = _api(client, study_admin, url, _crossover(washout_days=0))
    assert made.status_code == 201, made.content
    assert made.json()["reading_layout"] == "crossover"
    assert made.json()["washout_days"] == 0
    shown = _api(client, study_admin, f"/api/v1/studies/{made.json()['token']}/").json()
    assert (shown["reading_layout"], shown["washout_days"]) == ("crossover", 0)
    for body, message in [
        (_crossover(washout_days=None), "A crossover study needs a washout"),
        ({k: v for k, v in _crossover().items() if k != "washout_days"}, "needs a washout"),
        (_crossover(washout_days=-1), "greater than or equal to 0"),
        (_crossover(washout_days=1.5), "A valid integer is required"),
        (_crossover(layout="sequential"), "Only a crossover study has a washout"),
    ]:
        refused = _api(client, study_admin, url, body)
        assert refused.status_code == 400, body
        assert message in refused.json()["washout_days"][0], refused.json()
    sequential = _api(client, study_admin, url, _crossover(layout="sequential", washout_days=None))
    assert sequential.status_code == 201
    assert sequential.json()["washout_days"] == 0
    assert Study.objects.count() == 2


def test_a_crossover_without_a_washout_opens_session_two_once_session_one_is_done(
    client, study_admin, raters
):
    """A washout of 0 days: session 2 opens the moment the reader finishes session 1, and the
    dashboard's raters (page and API) show each reader's sessions all the same."""
    study = reading_study(study_admin, raters[:2], washout_days=0)
    services.study_open(study=study)
    reader = raters[0]
    question = study.questions.get(kind=Question.Kind.ANSWER)
    client.force_login(study_admin)

    def sessions() -> list[tuple]:
        rows = _api(client, study_admin, f"/api/v1/studies/{study.token}/raters/").json()
        mine = next(row for row in rows if row["username"] == reader.username)
        return [(s["session"], s["done"], s["total"], s["is_open"]) for s in mine["sessions"]]

    assert sessions() == [(1, 0, 4, True), (2, 0, 4, False)]
    page = " ".join(client.get(reverse("study_dashboard", args=[study.token])).text.split())
    assert page.count("session 2: 0/4, after session 1") == 2  # both readers
    assert "Washout: 0 days after a reader finishes one session" in page
    client.force_login(reader)
    later = study.assignments.filter(rater=reader, session=2).first()
    waiting = client.get(reverse("rater_item", args=[study.token, later.token]))
    assert waiting.status_code == 409
    said = " ".join(waiting.text.split())
    assert "Session 2 is not open yet: it opens as soon as you finish session 1." in said
    assert "it opens as soon as you finish session 1." in said  # the wait line under it
    assert "0 days" not in said
    home = " ".join(client.get(reverse("rater_home")).text.split())
    assert "Then session 2, with 4 items: it opens as soon as you finish session 1." in home
    for read in study.assignments.filter(rater=reader, session=1):
        services.rating_save(assignment=read, question=question, answer=["PE"])
        services.assignment_submit(assignment=read)
    # Session 1 closed as the reader finished it; session 2 opened at once.
    assert sessions() == [(1, 4, 4, False), (2, 0, 4, True)]
    client.force_login(study_admin)
    page = " ".join(client.get(reverse("study_dashboard", args=[study.token])).text.split())
    assert "session 1: 4/4, closed" in page
    client.force_login(reader)
    assert client.get(reverse("rater_item", args=[study.token, later.token])).status_code == 200
    first = study.assignments.filter(rater=reader, session=1).first()
    closed = client.get(reverse("rater_item", args=[study.token, first.token]))
    assert closed.status_code == 409
    assert "Answers of session 1 are closed now that you have finished it" in closed.text
