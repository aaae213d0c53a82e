"""The clinician scorer in headless Chromium, by keyboard alone: from their home page to the
queue, a ranked list's first right entry chosen with the arrow keys, a list with none, and
the queue empty at the end; never a reader, arm or model named on the way."""

from annotation import services
from annotation.models import AnswerScore, Question
from tests.factories import UserFactory
from tests.reading_support import reading_study
from tests.support.browser import BROWSER_MARKS, browser_page, log_in
from tests.support.words import mentions

pytestmark = BROWSER_MARKS


def test_a_scorer_decides_the_queue_by_keyboard(live_server, study_admin, raters):
    study = reading_study(study_admin, raters[:1], arm_key="ddx-secret-arm")
    services.study_open(study=study)
    question = study.questions.get(kind=Question.Kind.ANSWER)
    reads = list(study.assignments.filter(rater=raters[0]).order_by("position"))
    for read in reads[:4]:  # c1 and c2 (phase 1 and 2): no accepted wording in first place
        if read.phase == 1:
            services.rating_save(
                assignment=read, question=question, answer=["Panic attack", "Chest wall pain"]
            )
        services.assignment_submit(assignment=read)
    scorer = UserFactory(username="scorer")
    services.scorer_add(study=study, user=scorer)
    waiting = AnswerScore.objects.filter(
        rating__assignment__study=study, outcome=AnswerScore.Outcome.UNDECIDED
    ).count()
    assert waiting == 4  # two reads of two cases
    secrets = ("ddx-secret-arm", "Model X", "Model Y", "Assistant", raters[0].username, "R1")

    with browser_page(live_server.url) as page:
        log_in(page, "scorer")
        page.goto("/rate/")
        link = page.get_by_role("link", name=study.title)
        link.focus()
        page.keyboard.press("Enter")
        decided = []
        for turn in range(waiting):
            page.wait_for_selector("input[name=rank]")
            text = page.content()
            for secret in secrets:
                assert not mentions(text, secret), (turn, secret)
            first = page.locator("input[name=rank]").first
            first.focus()
            # Arrow keys move through the radio group: entry 2 ("Chest wall pain") on even
            # turns, then on to "None of them" on odd ones.
            page.keyboard.press("ArrowDown")
            if turn % 2:
                page.keyboard.press("ArrowDown")
            chosen = page.locator("input[name=rank]:checked").get_attribute("value")
            decided.append(chosen)
            page.keyboard.press("Tab")  # to the decide button
            item = page.url
            page.keyboard.press("Enter")
            page.wait_for_url(lambda url, item=item: url != item)
        page.wait_for_selector("text=Nothing to score")
    assert decided == ["2", "", "2", ""]
    scores = AnswerScore.objects.filter(rating__assignment__study=study, by="scorer")
    assert sorted((s.outcome, s.rank or 0) for s in scores) == [
        ("right", 2),
        ("right", 2),
        ("wrong", 0),
        ("wrong", 0),
    ]
