"""Blinding: nothing a rater can reach names a source, its primary key or its model.

The test loads the demo study after moving every id sequence to a distinctive number, so that a
leaked primary key would be found by a plain text search. It then crawls every page, partial and
API response a rater can reach (following links and htmx URLs), posts ratings, tries the study
admin's URLs, and searches everything it received.
"""

import datetime
import json
import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from annotation import services
from annotation.demo import READING_TITLE, load_demo
from annotation.demo_workflows import WORKFLOWS_TITLE
from annotation.models import (
    AnswerScore,
    Assignment,
    Attachment,
    Case,
    Item,
    ItemOutput,
    Output,
    Source,
    Study,
)

pytestmark = pytest.mark.django_db

# Distinctive first ids per table; any of them in a rater's response would be a leak.
SEQUENCE_STARTS = {
    Study: 7_100_001,
    Source: 7_200_001,
    Case: 7_300_001,
    Output: 7_400_001,
    Item: 7_500_001,
    Assignment: 7_600_001,
    ItemOutput: 7_700_001,
}


def bump_sequences() -> None:
    with connection.cursor() as cursor:
        for model, start in SEQUENCE_STARTS.items():
            table = model._meta.db_table
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)", [table, start]
                )
            else:  # SQLite AUTOINCREMENT keeps the last id in sqlite_sequence
                cursor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table])
                cursor.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, start - 1]
                )


class LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        for name, value in attrs:
            if value and name in ("href", "src", "action", "hx-get", "hx-post"):
                self.urls.append(value)


def as_text(response) -> str:
    """Body and headers: a leak in a Location or HX-* header counts as much as one in HTML."""
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    chain = "\n".join(url for url, _ in getattr(response, "redirect_chain", []))
    return f"{headers}\n{chain}\n{body_text(response)}"


def body_text(response) -> str:
    """The body, whole, of a plain or a streamed (CSV export) response, or an image's bytes."""
    data = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Type", "").startswith("image/"):
        return data.decode("latin-1")  # bytes, read so that any text hidden in them shows
    return data.decode()


def crawl(client, start: list[str]) -> dict[str, str]:
    seen: dict[str, str] = {}
    queue = list(start)
    while queue:
        url = queue.pop()
        if (
            url in seen
            or not url.startswith("/")
            or url.startswith(("/accounts/logout", "/static/"))
        ):
            continue
        seen[url] = as_text(client.get(url, follow=True))
        parser = LinkParser()
        parser.feed(seen[url])
        queue += [urlsplit(urljoin(url, u)).path for u in parser.urls]
    return seen


@pytest.fixture
def demo():
    bump_sequences()
    summary = load_demo()
    return summary.study


def finish_training(study: Study, rater) -> None:
    """Do the rater's training as expected: until then, study items send them back to it."""
    for assignment in study.assignments.filter(rater=rater, kind="training"):
        for question in study.questions.all():
            for answer in assignment.item.output.case.expected.get(question.key, [])[:1]:
                services.rating_save(assignment=assignment, question=question, answer=answer)
        services.assignment_submit(assignment=assignment)


def secrets_of(study: Study, rater) -> list[str]:
    """Every string that would unblind: labels, model names and endpoints of the sources, every
    id of an output, item, case or source, item tokens (the exports' key to sources), and the
    assignment tokens of every other rater."""
    values = []
    for source in Source.objects.filter(study=study):
        values += [source.label, str(source.pk)]
        values += [v for v in (source.model_name, source.base_url) if v]
    values += [
        str(pk) for pk in Output.objects.filter(case__study=study).values_list("pk", flat=True)
    ]
    values += [str(pk) for pk in Item.objects.filter(study=study).values_list("pk", flat=True)]
    # An image's file name is the admin's (it may name a model); raters get its token only.
    values += list(Attachment.objects.filter(case__study=study).values_list("name", flat=True))
    members = ItemOutput.objects.filter(item__study=study)
    values += [str(pk) for pk in members.values_list("pk", flat=True)]
    values += [
        str(pk) for pk in Assignment.objects.filter(study=study).values_list("pk", flat=True)
    ]
    values += [str(pk) for pk in Case.objects.filter(study=study).values_list("pk", flat=True)]
    values += list(Item.objects.filter(study=study).values_list("token", flat=True))
    others = Assignment.objects.filter(study=study).exclude(rater=rater)
    values += list(others.values_list("token", flat=True))
    # An assisting arm's key is the admin's name for it (it may name the model).
    values += list(study.arms.exclude(kind="unassisted").values_list("key", flat=True))
    values.append(str(study.pk))
    return values


def assert_blind(responses: dict[str, str], study: Study, rater) -> None:
    """No secret of this study, nor of any other study the rater is in, appears anywhere."""
    studies = {study, *Study.objects.filter(assignments__rater=rater)}
    secrets = [secret for each in studies for secret in secrets_of(each, rater)]
    assert any(s.startswith("71") for s in secrets)  # the sequences really moved
    for url, body in responses.items():
        lowered = body.lower()
        for secret in secrets:
            assert secret.lower() not in lowered, f"{secret!r} leaks in {url}"
        assert not re.search(r"\bsource", lowered), f"'source' appears in {url}"


# A study's own pages for its rater, beside the items (/rate/<study>/<page>/).
RATER_STUDY_PAGES = tuple(
    f"/{page}/"
    for page in ("review", "consent", "background", "after-study", "my-consent", "withdraw")
)


@pytest.mark.parametrize("pseudonym", ["R1", "R2"])  # a fresh rater and one who has finished
def test_no_rater_facing_response_reveals_a_source(client, demo, pseudonym):
    rater = demo.memberships.get(pseudonym=pseudonym).user
    finish_training(demo, rater)
    client.force_login(rater)
    # An item of a session not open yet is linked from nowhere: its address is tried as well.
    closed = _closed_sessions(rater)
    pages = crawl(client, ["/", reverse("rater_home"), *closed.values()])
    item_pages = [
        url
        for url in pages
        if url.count("/") == 4 and url.startswith("/rate/") and not url.endswith(RATER_STUDY_PAGES)
    ]
    # Every study of the demo the rater is in: absolute, pairwise, side by side, ranking,
    # omissions, corrections, the washout study (12 items and 3 re-reads in session 2), and
    # the assisted-reading study (6 cases, each read unassisted then beside the model); R2
    # (rater2) has consented to the workflows demo too, and rated its 16 items there.
    expected = {"R1": 73, "R2": 73 + 16}[pseudonym]
    assert len(item_pages) == Assignment.objects.filter(rater=rater).count() == expected
    reading = Study.objects.get(title=READING_TITLE)
    assert sum(url.startswith(f"/rate/{reading.token}/") for url in item_pages) == 12
    assert any(url.endswith("/feedback/") for url in pages)  # training feedback, linked
    posts = {
        "absolute": [{"question": "overall", "answer": "1"}],
        "pairwise": [{"question": "preference", "answer": "1"}],
        "ranking": [{"question": "rank", "rank-A": "2", "rank-B": "3", "rank-C": "1"}],
    }
    posts["side_by_side"] = posts["ranking"] + [
        {"question": "overall", "answer": "2", "about": letter} for letter in "ABC"
    ]
    designs = dict(Study.objects.values_list("token", "design"))
    # The omission widget: facts ticked omitted and stated wrongly.
    omitting = set(Study.objects.filter(questions__kind="omission").values_list("token", flat=True))
    omission = {"question": "omissions", "omitted": ["f1", "f3"], "wrong": "f2"}
    # Assisted reading: a differential typed in. A locked unassisted answer is refused (409);
    # an assisted read whose unassisted answer is not locked yet refuses the save (200).
    posts[""] = [{"question": "answer", "entry-1": "Gout", "entry-2": "Cellulitis"}]
    designs[reading.token] = ""
    reads = Assignment.objects.filter(study=reading, rater=rater)
    locked = set(reads.filter(locked_at__isnull=False).values_list("token", flat=True))
    open_positions = {a.position + 1 for a in reads.filter(phase=1, locked_at__isnull=True)}
    waiting = {a.token for a in reads.filter(phase=2) if a.position in open_positions}

    # htmx partials: save a rating on every item, then revisit everything. An item of a
    # session not open yet is refused, saying only when the session opens.
    for url in item_pages:
        token = url.split("/")[2]
        for data in posts[designs[token]] + ([omission] if token in omitting else []):
            response = client.post(url, data, headers={"HX-Request": "true"})
            if url.split("/")[3] in closed:
                assert response.status_code == 409
                refused = response.content.decode()
                assert "Session 2 is not open yet" in refused or "now that session 2" in refused
            elif url.split("/")[3] in locked:
                assert response.status_code == 409
                assert "Your unassisted answer is locked" in response.content.decode()
            elif url.split("/")[3] in waiting:
                assert response.status_code == 200
                assert "First lock your unassisted answer" in response.content.decode()
            else:
                assert response.status_code == 200
                assert "Saved" in response.content.decode()
            pages[f"POST {url} {data}"] = as_text(response)
    pages.update({f"again {url}": body for url, body in crawl(client, ["/rate/"]).items()})

    # The admin's URLs, tried by the rater, give nothing away either.
    for name in ("study_dashboard", "study_ratings_csv", "study_corrections"):
        response = client.get(reverse(name, args=[demo.token]))
        assert response.status_code == 404
        pages[name] = as_text(response)
    # Nor the reading study's admin and scorer pages.
    for name in ("study_dashboard", "scorer_next"):
        response = client.get(reverse(name, args=[reading.token]))
        assert response.status_code == 404
        pages[f"{name} reading"] = as_text(response)
    assert_blind(pages, demo, rater)
    assert_no_reread_named(pages)


def test_the_demo_reading_studys_scorer_learns_no_arm_source_or_reader(client, demo):
    """The assisted-reading demo's scorer, crawling every page they can reach (their queue and
    each answer in it): no source, arm, reader or read is named."""
    study = Study.objects.get(title=READING_TITLE)
    scorer = study.scorers.get().user
    client.force_login(scorer)
    queue = AnswerScore.objects.filter(rating__assignment__study=study, outcome="undecided")
    answers = [reverse("scorer_item", args=[study.token, s.token]) for s in queue]
    assert answers  # the demo leaves undecided answers for the scorer
    pages = crawl(client, ["/", reverse("scorer_next", args=[study.token]), *answers])
    assert all(pages[url] for url in answers)
    readers = study.memberships.filter(role="rater").select_related("user")
    secrets = secrets_of(study, scorer)
    # Readers by pseudonym (R1) or user name (rater1), as whole words: "scorer1" is the scorer.
    named = [rf"\b{m.pseudonym}\b" for m in readers] + [rf"\b{m.user.username}\b" for m in readers]
    for url, body in pages.items():
        for secret in secrets:
            assert secret.lower() not in body.lower(), f"{secret!r} leaks in {url}"
        for reader in named:
            assert not re.search(reader, body), f"{reader!r} appears in {url}"
        assert not re.search(r"\bsource|\bunassisted", body.lower()), url
    assert client.get(reverse("study_dashboard", args=[study.token])).status_code == 404


def test_the_adjudicator_learns_no_source_rater_or_token(client, demo):
    """An adjudicator who also rates the demo study, crawling every page and API answer they
    can reach (their queue, each item in it, the home page): readers appear as "Reader n"
    only, never by pseudonym, user name or assignment token, and no source is named."""
    admin = demo.memberships.get(role="admin").user
    services.adjudication_select(study=demo, by=admin, mode="all")
    assert demo.adjudications.exists()  # the demo has items every rater submitted
    # A rater with decided items of their own: those must never be offered to them.
    adjudicator = demo.adjudications.order_by("pk").first().item.assignments.first().rater
    services.adjudicator_add(study=demo, user=adjudicator)
    client.force_login(adjudicator)
    offered = demo.adjudications.exclude(item__assignments__rater=adjudicator)
    items = [reverse("adjudicator_item", args=[demo.token, a.token]) for a in offered]
    assert items
    api = f"/api/v1/adjudicate/{demo.token}/items/"
    starts = ["/", reverse("adjudicator_next", args=[demo.token]), *items, api]
    pages = crawl(client, starts)
    pages |= {f"{api}{a.token}/": as_text(client.get(f"{api}{a.token}/")) for a in offered}
    assert all("Reader 1" in pages[url] for url in items)
    readers = demo.memberships.filter(role="rater").exclude(user=adjudicator)
    named = [rf"\b{m.pseudonym}\b" for m in readers.select_related("user")]
    named += [rf"\b{m.user.username}\b" for m in readers.select_related("user")]
    secrets = secrets_of(demo, adjudicator)
    for url, body in pages.items():
        if not url.startswith(("/adjudicate/", "/api/v1/adjudicate/")):
            continue  # the home page lists their own rating too, checked by the rater crawl
        for secret in secrets:
            assert secret.lower() not in body.lower(), f"{secret!r} leaks in {url}"
        for reader in named:
            assert not re.search(reader, body), f"{reader!r} appears in {url}"
        assert not re.search(r"\bsource", body.lower()), url
    # Nor their own items: never offered, and 404 if asked for.
    own = demo.adjudications.filter(item__assignments__rater=adjudicator).first()
    assert client.get(reverse("adjudicator_item", args=[demo.token, own.token])).status_code == 404


def test_the_workflows_demos_adjudicator_learns_no_source_or_rater(client, demo):
    """adjudicator1, who rates nothing, crawling the workflows demo's queue, its items (decided
    and waiting) and the API: no source, pseudonym or user name of a rater."""
    study = Study.objects.get(title=WORKFLOWS_TITLE)
    adjudicator = get_user_model().objects.get(username="adjudicator1")
    client.force_login(adjudicator)
    items = [
        reverse("adjudicator_item", args=[study.token, a.token]) for a in study.adjudications.all()
    ]
    api = f"/api/v1/adjudicate/{study.token}/items/"
    pages = crawl(client, ["/", reverse("adjudicator_next", args=[study.token]), *items, api])
    assert len(items) == 3
    assert all("Reader 1" in pages[url] for url in items)
    readers = study.memberships.filter(role="rater").select_related("user")
    named = [rf"\b{m.pseudonym}\b" for m in readers] + [rf"\b{m.user.username}\b" for m in readers]
    secrets = secrets_of(study, adjudicator)
    for url, body in pages.items():
        for secret in secrets:
            assert secret.lower() not in body.lower(), f"{secret!r} leaks in {url}"
        for reader in named:
            assert not re.search(reader, body), f"{reader!r} appears in {url}"
        assert not re.search(r"\bsource", body.lower()), url


def _closed_sessions(rater) -> dict[str, str]:
    """The rater's items whose reading session is not open yet, or closed by a later one:
    their item page by token."""
    from django.utils import timezone

    from annotation import selectors

    later = Assignment.objects.filter(rater=rater).select_related("study")
    now = timezone.now()
    return {
        a.token: reverse("rater_item", args=[a.study.token, a.token])
        for a in later
        if not selectors.rater_session_gate(assignment=a).is_open(now)
    }


def assert_no_reread_named(responses: dict[str, str]) -> None:
    """Re-reads after a washout look like any other item: a rater learns of "session 2" and
    when it opens, never that its items are ones they read before."""
    # The app's own words; a bare "repeat" is left out: study text says "repeat chest X-ray".
    named = re.compile(r"\b(re-?reads?|retests?|repeat_of|hidden repeats?|washout)\b")
    for url, body in responses.items():
        found = named.search(body.lower())
        assert found is None, f"{found and found.group()!r} appears in {url}"


def test_no_api_response_a_rater_can_get_reveals_a_source(client, demo):
    rater = demo.memberships.get(pseudonym="R2").user
    headers = {"Authorization": f"Token {Token.objects.create(user=rater).key}"}
    ratings = reverse("api-rating-list", args=[demo.token])
    key = reverse("api-unblinding-list", args=[demo.token])
    expected = {
        reverse("api-study-list"): 200,
        ratings: 403,
        ratings + "?format=csv": 403,
        key: 403,
        key + "?format=csv": 403,
    }
    responses = {}
    for url, status in expected.items():
        response = client.get(url, headers=headers)
        assert response.status_code == status, url
        responses[url] = as_text(response)
    assert demo.title in responses[reverse("api-study-list")]
    assert_blind(responses, demo, rater)


def test_the_rater_api_keeps_raters_blind_in_every_design(client, demo):
    """Every study the rater is in (absolute, pairwise, side by side, ranking): the list, every
    item, an answer saved and a submit, and the admin's endpoints tried: no source anywhere."""
    import json

    rater = demo.memberships.get(pseudonym="R2").user
    finish_training(demo, rater)
    closed = _closed_sessions(rater)
    # Assisted reading: the rater's locked unassisted answers refuse a save (409).
    locked = set(
        Assignment.objects.filter(rater=rater, locked_at__isnull=False).values_list(
            "token", flat=True
        )
    )
    assert locked
    headers = {"Authorization": f"Token {Token.objects.create(user=rater).key}"}
    responses = {}

    def get(url: str, status: int = 200) -> dict:
        response = client.get(url, headers=headers)
        assert response.status_code == status, url
        responses[url] = as_text(response)
        return response.json()

    studies = get("/api/v1/rate/")["results"]
    assert {s["token"] for s in studies} == set(
        Study.objects.filter(assignments__rater=rater).values_list("token", flat=True)
    )
    n_items = 0
    for study in Study.objects.filter(assignments__rater=rater).distinct():
        base = f"/api/v1/rate/{study.token}/items/"
        rows = get(base + "?page_size=1000")["results"]
        n_items += len(rows)
        for row in rows:
            if row["token"] in closed:  # session 2 has begun: refused, saying only that
                refused = get(f"{base}{row['token']}/", status=409)
                assert "now that session 2 has begun" in refused["detail"]
                continue
            item = get(f"{base}{row['token']}/")
            assert item["token"] == row["token"]
            if row["training"]:
                continue
            for body in _api_answers(item):
                url = f"{base}{row['token']}/answers/"
                response = client.post(
                    url, json.dumps(body), content_type="application/json", headers=headers
                )
                expected = 409 if row["token"] in locked else 200
                assert response.status_code == expected, (url, response.content)
                responses[f"POST {url} {body}"] = as_text(response)
            submitted = client.post(f"{base}{row['token']}/submit/", headers=headers)
            assert submitted.status_code == 200, submitted.content
            responses[f"submit {row['token']}"] = as_text(submitted)
        for part in ("sources", "outputs", "ratings", "unblinding-key", "assignments", "results"):
            get(f"/api/v1/studies/{study.token}/{part}/", status=403)
    # The 73 of the other demo studies and the 16 of the workflows demo (which R2 consented to).
    assert n_items == Assignment.objects.filter(rater=rater).count() == 73 + 16
    assert_blind(responses, demo, rater)
    assert_no_reread_named(responses)


def _api_answers(item: dict) -> list[dict]:
    """An answer to every question of an item as the rater API shows it."""
    n = max(len(item["outputs"]), 2 if item["output_b_text"] is not None else 1)
    asked = [(q, "") for q in item["questions"]]
    asked += [(q, shown["letter"]) for shown in item["outputs"] for q in shown["questions"]]
    bodies = []
    for question, about in asked:
        kind, options = question["kind"], [o["value"] for o in question["options"]]
        answer = {
            "ranking": list(range(1, n + 1)),
            "text": "fine",
            "number": question["minimum"] or 0,
            "multiple_choice": options[:1],
            "criteria": [],
            "span": [],
            "omission": {"omitted": [f["id"] for f in question["facts"][:1]], "wrong": []},
            "correction": "An edited response.",
            "answer": {"ranked": ["Gout"], "text": "Gout", "number": 0}.get(
                question.get("answer_kind"), options[0] if options else None
            ),
        }.get(kind, options[0] if options else None)
        bodies.append({"question": question["key"], "answer": answer, "about": about})
    return bodies


def test_every_kind_of_question_keeps_raters_blind(client, demo):
    import json

    from annotation.models import Question

    Case.objects.filter(study=demo).update(
        criteria=[{"id": "safe", "text": "Gives safe advice", "points": 2}],
        facts=[
            {"id": "k1", "text": "Takes lisinopril", "importance": 2},
            {"id": "k2", "text": "Dry cough", "importance": 1},
        ],
    )
    kinds = {
        "consensus": (
            "single_choice",
            "nominal",
            [{"value": "aligned", "label": "Aligned"}, {"value": "opposed", "label": "Opposed"}],
        ),
        "missing": (
            "multiple_choice",
            "",
            [{"value": "dose", "label": "Dose"}, {"value": "timing", "label": "Timing"}],
        ),
        "harm": ("yes_no", "nominal", []),
        "usefulness": ("number", "interval", []),
        "comment": ("text", "", []),
        "criteria": ("criteria", "interval", []),
        "errors": ("span", "ratio", [{"value": "factual", "label": "Factual error"}]),
        "omitted": ("omission", "ratio", []),
        "corrected": ("correction", "ratio", []),
    }
    for order, (key, (kind, level, scale)) in enumerate(kinds.items(), start=2):
        Question.objects.create(
            study=demo,
            key=key,
            prompt=f"About {key}",
            kind=kind,
            level=level,
            scale=scale,
            required=False,
            order=order,
        )
    answers = {
        "consensus": "opposed",
        "missing": ["dose"],
        "harm": "yes",
        "usefulness": "6",
        "comment": "fine",
        "criteria": ["safe"],
        "errors": json.dumps([{"start": 0, "end": 3, "category": "factual", "severity": "minor"}]),
        "omitted": {"omitted": "k1", "wrong": "k2"},  # the widget's own fields
        "corrected": "An edited summary.",
    }
    rater = demo.memberships.get(pseudonym="R1").user
    finish_training(demo, rater)
    client.force_login(rater)
    pages = crawl(client, ["/", reverse("rater_home")])
    item_pages = [url for url in pages if url.startswith(f"/rate/{demo.token}/")]
    item_pages = [
        url for url in item_pages if url.count("/") == 4 and not url.endswith("/my-consent/")
    ]
    assert len(item_pages) == 16
    for url in item_pages:
        for key, value in answers.items():
            data = {"question": key, **value} if isinstance(value, dict) else {"answer": value}
            response = client.post(url, {"question": key, **data}, headers={"HX-Request": "true"})
            assert "Saved" in response.content.decode(), (key, response.content[:300])
            pages[f"POST {url} {key}"] = as_text(response)
    pages.update({f"again {url}": body for url, body in crawl(client, ["/rate/"]).items()})
    assert_blind(pages, demo, rater)


def test_a_rater_never_sees_another_raters_correction(client, demo):
    """The correction demo: every other rater's correction of this rater's items carries a
    marker; no page, partial, answers read-back or API response of this rater shows it (nor
    the diff admins read, which a rater cannot open)."""
    from annotation.demo import CORRECTIONS_TITLE

    study = Study.objects.get(title=CORRECTIONS_TITLE)
    rater = study.memberships.get(user__username="rater1").user
    question = study.questions.get(key="corrected")
    marker = "Zq7 another rater's correction"
    mine = list(study.assignments.filter(rater=rater).select_related("item__output"))
    others = study.assignments.filter(item__in=[a.item for a in mine]).exclude(rater=rater)
    for other in others.select_related("item__output"):
        answer = f"{other.item.output.text} {marker}"
        services.rating_save(assignment=other, question=question, answer=answer)
    client.force_login(rater)
    pages = crawl(client, ["/", reverse("rater_home")])
    headers = {"Authorization": f"Token {Token.objects.create(user=rater).key}"}
    for assignment in mine:
        url = reverse("rater_item", args=[study.token, assignment.token])
        response = client.post(
            url, {"question": "corrected", "answer": "My own edit."}, headers={"HX-Request": "true"}
        )
        assert "Saved" in response.content.decode()
        pages[f"POST {url}"] = as_text(response)
        answers = reverse("rater_answers", args=[study.token, assignment.token])
        pages[answers] = as_text(client.get(answers))
        api = f"/api/v1/rate/{study.token}/items/{assignment.token}/"
        response = client.get(api, headers=headers)
        assert response.json()["token"] == assignment.token
        pages[api] = as_text(response)
    corrections = reverse("study_corrections", args=[study.token])
    response = client.get(corrections)
    assert response.status_code == 404
    pages[corrections] = as_text(response)
    assert (len(mine), others.count()) == (6, 6)
    for url, body in pages.items():
        assert marker.lower() not in body.lower(), f"another rater's correction in {url}"
    assert_blind(pages, study, rater)
    # The marker is there to be found: the study's admin reads it in the diffs.
    client.force_login(study.memberships.get(role="admin").user)
    assert marker in client.get(corrections, {"all": "1"}).content.decode().replace("&#x27;", "'")


def test_assisted_reading_shows_nothing_of_a_model_until_the_assisted_read(client, raters):
    """The unassisted read, and the assisted read before the unassisted answer locks, show
    nothing of any model; after the lock, the assisted read shows the output under a neutral
    label, never the arm or its source (issue 23)."""
    from annotation.models import Arm
    from tests.reading_support import reading_study

    bump_sequences()
    admin = raters[2]
    study = reading_study(admin, raters[:2], arm_key="armx-model-x")
    services.study_open(study=study)
    rater = raters[0]
    first, second = study.assignments.filter(rater=rater).order_by("position")[:2]
    outputs = list(Output.objects.filter(case__study=study).values_list("text", flat=True))
    client.force_login(rater)
    pages = crawl(client, ["/", reverse("rater_home")])
    api = f"/api/v1/rate/{study.token}/items/"
    for token in (first.token, second.token):
        pages[api + token] = as_text(client.get(f"{api}{token}/"))
    for url, body in pages.items():
        for text in outputs:  # nothing of any model before the lock, anywhere
            assert text not in body, f"an output shows in {url} before the lock"
    question = study.questions.get(key="answer")
    services.rating_save(assignment=first, question=question, answer=["PE"])
    services.assignment_submit(assignment=first)
    page = as_text(client.get(reverse("rater_item", args=[study.token, second.token])))
    shown = second.item.output.text
    assert shown in page
    assert ">Assistant<" in page
    assert all(text not in page for text in outputs if text != shown)
    item = client.get(f"{api}{second.token}/").json()
    assert item["output_text"] == shown
    assert item["reading"]["label"] == "Assistant"
    pages["after the lock"] = page
    pages["api after the lock"] = json.dumps(item)
    assert Arm.objects.filter(study=study, key="armx-model-x").exists()
    for url, body in pages.items():
        assert "armx-model-x" not in body, f"the arm's key leaks in {url}"
    assert_blind(pages, study, rater)


def test_a_crossover_readers_finished_session_shows_nothing_of_its_models_later(client, raters):
    """Crossover: once the reader finished session 1, nothing they can reach (pages followed
    from their home page, the API's items and each session-1 read) shows a session-1 output,
    during the washout or in session 2, where each case comes back in the other arm."""
    from tests.reading_support import reading_study

    bump_sequences()
    study = reading_study(raters[2], raters[:2], arm_key="armx-model-x", washout_days=14)
    services.study_open(study=study)
    rater = raters[0]
    question = study.questions.get(key="answer")
    first = list(study.assignments.filter(rater=rater, session=1).order_by("position"))
    for read in first:
        services.rating_save(assignment=read, question=question, answer=["Marker answer"])
        services.assignment_submit(assignment=read)
    shown = [r.item.output.text for r in first if r.arm.key == "armx-model-x"]
    assert len(shown) == 2
    client.force_login(rater)
    api = f"/api/v1/rate/{study.token}/items/"

    def reachable() -> dict[str, str]:
        pages = crawl(
            client, ["/", reverse("rater_home"), reverse("rater_review", args=[study.token])]
        )
        pages[api] = as_text(client.get(api))
        for read in first:
            url = reverse("rater_item", args=[study.token, read.token])
            pages[url] = as_text(client.get(url))
            pages[url + "answers/"] = as_text(client.get(url + "answers/"))
            pages[api + read.token] = as_text(client.get(f"{api}{read.token}/"))
        return pages

    during = reachable()
    Assignment.objects.filter(pk__in=[r.pk for r in first]).update(
        submitted_at=timezone.now() - datetime.timedelta(days=15)
    )
    after = reachable()
    assert any("Session 2" in body or "session 2" in body for body in during.values())
    for moment, pages in (("washout", during), ("session 2", after)):
        for url, body in pages.items():
            for text in shown:  # each case's session-2 read is unassisted: never shown again
                assert text not in body, f"a session-1 output shows in {url} ({moment})"
            assert "Marker answer" not in body, f"a session-1 answer shows in {url} ({moment})"
            assert "armx-model-x" not in body, url
        assert_no_reread_named(pages)
    assert_blind(after, study, rater)
