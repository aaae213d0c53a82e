"""The dashboard's "Plan the next study" card: from a stored MRMC comparison (the Van Dyke
pilot), the fewest cases for each number of readers, the same numbers as the planner gives
called directly; from a stored alpha, the cases for an interval width; clear errors for bad
input; what to do when there is no pilot yet; study admins only."""

import random
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from django.utils import timezone

from annotation import services
from annotation.core.stats import planning
from annotation.core.stats.estimate import THESE_RATERS
from annotation.core.stats.mrmc import RANDOM_BOTH, mrmc, plain
from annotation.models import Result, Study, TaskRun
from annotation.services.statistics.rows import human_rows
from tests.factories import UserFactory, submit_rated
from tests.support.browser import BROWSER_MARKS, browser_page, log_in
from tests.test_accessibility import BLOCKING, NAMED
from tests.test_stats_mrmc import vandyke_rows

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin_client(client, study_admin):
    client.force_login(study_admin)
    return client


@pytest.fixture(scope="module")
def vandyke():
    rows, truth = vandyke_rows()
    return mrmc(rows, figure="auc", truth=truth)


def store_mrmc(study: Study, vandyke, *, pair: str = "T0 vs T1") -> Result:
    """A stored MRMC comparison as the statistics service stores it (helper "mrmc"'s contract):
    the whole analysis, its components as plain data and the number of cases."""
    both = next(a for a in vandyke.analyses if a.question == RANDOM_BOTH)
    return Result.objects.create(
        study=study,
        question=study.questions.first(),
        statistic="mrmc",
        source=pair,
        value=both.test.p,
        n_units=vandyke.n_cases,
        n_raters=len(vandyke.readers),
        n_ratings=2 * vandyke.n_cases * len(vandyke.readers),
        detail={
            **vandyke.as_dict(),
            "components": plain(vandyke.components),
            "n_cases": vandyke.n_cases,
        },
        inputs_hash="pilot",
        computed_at=timezone.now(),
    )


def store_alpha(study: Study, *, ci=(0.42, 0.66), cases: int = 40) -> Result:
    return Result.objects.create(
        study=study,
        question=study.questions.first(),
        statistic="krippendorff_alpha",
        value=0.55,
        n_units=cases,
        n_raters=3,
        n_ratings=3 * cases,
        detail={
            "value": 0.55,
            "ci": list(ci) if ci else None,
            "interval_question": THESE_RATERS if ci else "",
            "ci_method": "percentile bootstrap over cases, 1000 resamples",
            "interval_method": "percentile bootstrap over cases",
        },
        inputs_hash="pilot",
        computed_at=timezone.now(),
    )


def plan_rows(html: str) -> dict[int, tuple[int | None, str]]:
    """Readers -> (fewest cases or None, the power or out-of-reach words) from the plan table."""
    rows = {}
    for readers, cells in re.findall(r'<tr data-readers="(\d+)">(.*?)</tr>', html, re.S):
        found = re.search(r'data-cases="(\d+)">\d+</td><td>([\d.]+)</td>', cells)
        if found:
            rows[int(readers)] = (int(found[1]), found[2])
        else:
            after_readers = cells.split("</td>", 1)[1]
            rows[int(readers)] = (None, re.sub(r"<[^>]+>|\s+", " ", after_readers).strip())
    return rows


def post_power(client, study, **fields):
    data = {"difference": "0.05", "power": "0.8", "alpha": "0.05", "readers": "3-8", **fields}
    return client.post(reverse("study_plan_power", args=[study.token]), data, **HTMX)


def test_the_plan_gives_the_planners_own_numbers(admin_client, draft_study, vandyke):
    result = store_mrmc(draft_study, vandyke)
    response = post_power(admin_client, draft_study, pilot=result.pk)
    assert response.status_code == 200
    pilot = planning.Pilot.from_components(vandyke.components, cases=vandyke.n_cases)
    expected = planning.cases_for_power(pilot, difference=0.05, readers=range(3, 9), power=0.8)
    shown = plan_rows(response.text)
    assert sorted(shown) == [3, 4, 5, 6, 7, 8]
    for row in expected.rows:
        cases, power = shown[row.readers]
        if row.cases is None:
            assert cases is None
            assert power == (
                f"out of reach with {row.readers} readers: at most {row.best:.3f} power "
                f"up to {planning.MAX_CASES:,} cases"
            )
        else:
            assert cases == row.cases
            assert power == f"{row.power:.3f}"
    # Three Van Dyke readers cannot reach 0.8 for 0.05 (tests/test_study_planning.py); four can.
    assert shown[3][0] is None
    assert shown[4][0] == 361
    assert RANDOM_BOTH in response.text
    assert "Hillis" in response.text
    assert "as the true ones" in response.text


def test_the_pilot_is_offered_with_its_observed_difference(admin_client, draft_study, vandyke):
    store_mrmc(draft_study, vandyke)
    page = admin_client.get(reverse("study_dashboard", args=[draft_study.token])).text
    assert "Plan the next study" in page
    assert "T0 vs T1 (5 readers x 114 cases, observed difference -0.0438 AUC)" in page


def test_without_script_the_form_posts_and_the_dashboard_shows_the_plan(
    admin_client, draft_study, vandyke
):
    result = store_mrmc(draft_study, vandyke)
    response = admin_client.post(
        reverse("study_plan_power", args=[draft_study.token]),
        {"pilot": result.pk, "difference": "0.05", "power": "0.8", "alpha": "0.05", "readers": "5"},
    )
    assert response.status_code == 200
    assert "<h1>Summaries of patient questions</h1>" in response.text  # the whole dashboard
    assert plan_rows(response.text)[5][0] == 213
    get = admin_client.get(reverse("study_plan_power", args=[draft_study.token]))
    assert get.status_code == 302
    assert get["Location"].endswith("#planning")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"power": "1"}, "Power lies strictly between 0 and 1."),
        ({"power": "0"}, "Power lies strictly between 0 and 1."),
        ({"alpha": "0.5"}, "Alpha lies strictly between 0 and 0.5."),
        ({"alpha": "nan"}, "Enter a number."),
        ({"difference": "0"}, "The difference must be more than 0."),
        ({"difference": "-0.1"}, "The difference must be more than 0."),
        ({"difference": "inf"}, "Enter a number."),
        ({"difference": "1.5"}, "A difference in a share or an AUC is at most 1."),
        ({"difference": "1e7"}, "The difference must be at most 1,000,000."),
        ({"readers": "1-5"}, "Numbers of readers run from 2 to 200: &#x27;1-5&#x27;."),
        ({"readers": "190-201"}, "Numbers of readers run from 2 to 200"),
        ({"readers": "8-3"}, "Numbers of readers run from 2 to 200: &#x27;8-3&#x27;."),
        ({"readers": "three"}, "&#x27;three&#x27; is not a number of readers"),
        ({"readers": "3-40"}, "At most 30 numbers of readers at a time"),
        ({"readers": " , "}, "Give the numbers of readers"),
        ({"pilot": "999999"}, "Select a valid choice."),
    ],
)
def test_bad_input_is_named_not_a_500(admin_client, draft_study, vandyke, fields, message):
    result = store_mrmc(draft_study, vandyke)
    response = post_power(admin_client, draft_study, **{"pilot": result.pk, **fields})
    assert response.status_code == 200  # htmx swaps it in: the error is the answer
    assert message in response.text
    assert 'data-testid="power-plan"' not in response.text
    plain_post = admin_client.post(
        reverse("study_plan_power", args=[draft_study.token]),
        {"pilot": result.pk, "difference": "0.05", "readers": "3-8", **fields},
    )
    assert plain_post.status_code == 400
    assert message in plain_post.text


def test_another_studys_pilot_cannot_be_chosen(admin_client, draft_study, study_admin, vandyke):
    other = services.study_create(creator=study_admin, title="Other", question_prompt="q")
    theirs = store_mrmc(other, vandyke)
    store_mrmc(draft_study, vandyke)
    response = post_power(admin_client, draft_study, pilot=theirs.pk)
    assert "Select a valid choice." in response.text
    assert 'data-testid="power-plan"' not in response.text


def test_components_that_give_no_error_variance_are_refused_in_words(
    admin_client, draft_study, vandyke
):
    result = store_mrmc(draft_study, vandyke)
    flat = {**result.detail["components"], "var": 0.0, "cov1": 0.0, "cov2": 0.0, "cov3": 0.0}
    result.detail = {**result.detail, "components": {**flat, "ms_tr": 0.0}}
    result.save()
    response = post_power(admin_client, draft_study, pilot=result.pk)
    assert response.status_code == 200
    assert "No plan from this pilot: the variance components give no error variance." in (
        response.text
    )


def test_no_pilot_yet_says_what_to_rate(admin_client, draft_study):
    page = admin_client.get(reverse("study_dashboard", args=[draft_study.token])).text
    assert "first rate a crossed pilot: every reader reads the same cases under both sources" in (
        page
    )
    assert "first let raters rate a pilot" in page
    assert 'name="difference"' not in page
    assert 'name="width"' not in page


def test_a_stored_reason_is_shown_when_the_pilot_cannot_serve(admin_client, draft_study):
    reason = "not a crossed design: no case was read by every reader under both sources"
    Result.objects.create(
        study=draft_study,
        question=draft_study.questions.first(),
        statistic="mrmc",
        source="A vs B",
        value=None,
        n_units=0,
        n_raters=0,
        n_ratings=12,
        detail={"reason": reason},
        inputs_hash="pilot",
        computed_at=timezone.now(),
    )
    store_alpha(draft_study, ci=None)
    page = admin_client.get(reverse("study_dashboard", args=[draft_study.token])).text
    assert f"A vs B: no pilot for sizing yet ({reason})." in page
    assert "first rate a crossed pilot" in page
    assert "no interval to scale yet" in page


def test_the_width_plan_scales_the_pilots_interval(admin_client, draft_study):
    result = store_alpha(draft_study, ci=(0.25, 0.75), cases=40)
    page = admin_client.get(reverse("study_dashboard", args=[draft_study.token])).text
    assert "alpha 0.550 (0.250 to 0.750, width 0.500) on 40 cases" in page
    response = admin_client.post(
        reverse("study_plan_width", args=[draft_study.token]),
        {"pilot": result.pk, "width": "0.25"},
        **HTMX,
    )
    expected = planning.cases_for_width(pilot_cases=40, pilot_width=0.5, width=0.25)
    assert expected == 160
    assert f'data-cases="{expected}"' in response.text
    assert THESE_RATERS in response.text
    assert "An approximation" in response.text
    for bad, message in (
        ("0", "The width must be more than 0."),
        ("x", "Enter a number."),
        ("2.5", "The width must be at most 2."),
        ("1e-300", "Too narrow to compute a number of cases for: choose a wider one."),
    ):
        response = admin_client.post(
            reverse("study_plan_width", args=[draft_study.token]),
            {"pilot": result.pk, "width": bad},
            **HTMX,
        )
        assert message in response.text
        assert 'data-testid="width-plan"' not in response.text


@pytest.mark.parametrize("who", ["rater", "other admin"])
def test_only_the_studys_admins_can_plan(client, open_study, raters, vandyke, who):
    result = store_mrmc(open_study, vandyke)
    if who == "rater":
        user = raters[0]
    else:
        user = UserFactory(username="otheradmin")
        services.study_create(creator=user, title="Theirs", question_prompt="q")
    client.force_login(user)
    for name in ("study_plan_power", "study_plan_width"):
        url = reverse(name, args=[open_study.token])
        response = client.post(url, {"pilot": result.pk, "difference": "0.05", "readers": "5"})
        assert response.status_code == 404
        assert client.get(url).status_code == 404


def test_signed_out_is_sent_to_log_in(client, draft_study):
    response = client.post(reverse("study_plan_power", args=[draft_study.token]))
    assert response.status_code == 302
    assert "/login" in response["Location"]


# --- End to end: the pilot is a crossed study's own computed statistics ---------------------

EXPERT, MODEL = "Expert-written summary", "MedSumm-7B"


def crossed_study(study_admin, readers, *, n_cases: int = 6) -> Study:
    """Every reader rates every case's two summaries on "overall" (1-5), then statistics run."""
    lines = ["case_id,input,source,output,source_kind"]
    for n in range(1, n_cases + 1):
        lines += [
            f"c{n},Question {n},{EXPERT},Expert summary {n},human_reference",
            f"c{n},Question {n},{MODEL},Model summary {n},model",
        ]
    study = services.study_create(
        creator=study_admin,
        title="Crossed pilot",
        raters_per_item=len(readers),
        question_prompt="How good is the summary?",
        seed=11,
    )
    content = ("\n".join(lines) + "\n").encode()
    services.study_import_file(study=study, filename="pilot.csv", content=content)
    services.study_add_raters(study=study, users=readers)
    services.study_open(study=study)
    rng = random.Random(5)
    overall = study.questions.get(key="overall")
    lean = {}
    for assignment in study.assignments.select_related("item__output__source").order_by("pk"):
        better = assignment.item.output.source.label == EXPERT and rng.random() < 0.6
        bias = lean.setdefault(assignment.rater_id, rng.choice([-1, 0, 1]))
        score = min(5, max(1, 3 + better + bias + rng.choice([-1, 0, 0, 1])))
        services.rating_save(assignment=assignment, question=overall, answer=score)
    submit_rated(study)
    run = TaskRun.objects.create(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT)
    services.agreement_compute(run=services.task_run_claim(run_id=run.pk))
    return study


def test_a_crossed_studys_own_statistics_size_the_next_one(admin_client, study_admin, raters):
    study = crossed_study(study_admin, [*raters, UserFactory(username="rater4")])
    # The pilot, computed here straight from the submitted ratings, expert minus model.
    rows = human_rows(study, study.questions.get(key="overall"))
    readings = sorted(
        ((rater, case, source, value) for case, source, _, rater, value in rows),
        key=lambda reading: reading[2] != EXPERT,
    )
    direct = mrmc(readings, figure="mean")
    pilot = planning.Pilot.from_components(direct.components, cases=direct.n_cases)
    observed = direct.analyses[0].differences[0].estimate

    page = admin_client.get(reverse("study_dashboard", args=[study.token])).text
    label = f"{EXPERT} vs {MODEL} (4 readers x 6 cases, observed difference {observed:+.3g}"
    assert label in page
    stored = Result.objects.get(study=study, statistic="mrmc", question__key="overall")
    response = post_power(
        admin_client, study, pilot=stored.pk, difference="0.5", readers="3-6", power="0.8"
    )
    expected = planning.cases_for_power(pilot, difference=0.5, readers=range(3, 7), power=0.8)
    shown = plan_rows(response.text)
    assert {readers: cases for readers, (cases, _) in shown.items()} == {
        row.readers: row.cases for row in expected.rows
    }
    assert any(row.cases for row in expected.rows)  # a plan, not only "out of reach"

    alpha = Result.objects.get(
        study=study, statistic="krippendorff_alpha", question__key="overall", source="", judge=""
    )
    low, high = alpha.detail["ci"]
    response = admin_client.post(
        reverse("study_plan_width", args=[study.token]), {"pilot": alpha.pk, "width": "0.1"}, **HTMX
    )
    # Alpha over both sources: its units are outputs, two per case; the plan is in cases.
    assert (alpha.n_units, alpha.detail["n_cases"]) == (12, 6)
    units = planning.cases_for_width(pilot_cases=12, pilot_width=high - low, width=0.1)
    cases = -(-units // 2)
    assert f'data-cases="{cases}"' in response.text
    assert f"outputs (a case's output from one source), {units} of them, 2 per case" in (
        response.text
    )


def card_findings(page) -> list[str]:
    """axe-core's serious and critical findings in the planning card (the rest of the dashboard
    is tests/test_accessibility.py's)."""
    results = Axe().run(page, context="#planning")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(node["target"]) for node in v["nodes"])
        for v in results.response["violations"]
        if v["impact"] in BLOCKING or v["id"] in NAMED
    ]


def browser_test(test):
    for mark in reversed(BROWSER_MARKS):
        test = mark(test)
    return test


@browser_test
def test_planning_with_the_keyboard_on_a_phone(live_server, draft_study, study_admin, vandyke):
    store_mrmc(draft_study, vandyke)
    pilot = planning.Pilot.from_components(vandyke.components, cases=vandyke.n_cases)
    expected = planning.cases_for_power(pilot, difference=0.05, readers=[3, 4, 5, 6], power=0.9)
    with browser_page(live_server.url, viewport={"width": 390, "height": 844}) as page:
        log_in(page, study_admin.username)
        page.goto(f"/studies/{draft_study.token}/")
        page.get_by_label("Pilot comparison").focus()
        page.keyboard.press("Tab")
        page.keyboard.type("0.05")
        page.keyboard.press("Tab")
        page.keyboard.press("Control+A")
        page.keyboard.type("0.9")
        page.keyboard.press("Tab")  # alpha stays 0.05
        page.keyboard.press("Tab")
        page.keyboard.press("Control+A")
        page.keyboard.type("3-6")
        page.keyboard.press("Enter")
        table = page.locator("[data-testid=power-plan]")
        table.wait_for()
        shown = plan_rows(table.evaluate("t => t.outerHTML"))
        focused = page.evaluate("() => document.activeElement.id")
        widths = page.evaluate(
            """() => {
                const table = document.querySelector('[data-testid=power-plan]');
                return {
                    page: document.documentElement.scrollWidth,
                    table: table.scrollWidth,
                    card: table.closest('.card').clientWidth,
                };
            }"""
        )
        problems = card_findings(page)
        page.keyboard.press("Control+A")
        page.keyboard.type("1")  # one reader: named beside the field, in place
        page.keyboard.press("Enter")
        page.get_by_text("Numbers of readers run from 2 to 200: '1'.").wait_for()
        problems += [f"with an error: {line}" for line in card_findings(page)]
    assert {readers: cases for readers, (cases, _) in shown.items()} == {
        row.readers: row.cases for row in expected.rows
    }
    assert expected.rows[0].cases is None  # three readers: out of reach, said in a cell
    assert focused == "plan_power_readers"  # the swap keeps the keyboard where it was
    assert problems == [], "\n".join(problems)  # axe-core: no serious or critical finding
    assert widths["page"] <= 390, widths
    assert widths["table"] <= widths["card"], widths  # the out-of-reach words wrap
