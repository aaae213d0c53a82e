"""A rating study with real, submitted ratings for the adjudication tests: the six items of
tests/data/study.csv, two of three raters each, a Likert question, a harm choice and a comment."""

from annotation import services
from annotation.core import rubric
from annotation.models import Study
from tests.conftest import study_drafted

HARM = rubric.QuestionDraft(
    key="harm",
    prompt="Could the summary cause harm?",
    kind=rubric.SINGLE_CHOICE,
    level="nominal",
    scale=(
        {"value": "none", "label": "No harm"},
        {"value": "mild", "label": "Mild harm"},
        {"value": "severe", "label": "Severe harm"},
    ),
)
COMMENT = rubric.QuestionDraft(
    key="comment", prompt="Anything else?", kind=rubric.TEXT, level="", required=False
)
# Per item, in item-token order, the two raters' (overall, harm): item 0 agrees, item 1 spans
# three points, item 2 has no majority on harm and one severe, the rest agree.
ANSWERS = [
    [(4, "none"), (4, "none")],
    [(1, "none"), (4, "none")],
    [(3, "none"), (3, "severe")],
    [(5, "none"), (5, "none")],
    [(2, "mild"), (2, "mild")],
    [(3, "none"), (4, "none")],
]


def rated_study(admin, raters, *, submit_all: bool = True) -> Study:
    study = study_drafted(admin, raters)
    services.question_add(study=study, draft=HARM)
    services.question_add(study=study, draft=COMMENT)
    services.study_open(study=study)
    study.refresh_from_db()
    questions = {q.key: q for q in study.questions.all()}
    items = list(study.items.order_by("token"))
    for item, answers in zip(items, ANSWERS, strict=True):
        assignments = item.assignments.filter(kind="study").order_by("rater__username")
        for number, (assignment, (overall, harm)) in enumerate(
            zip(assignments, answers, strict=True), start=1
        ):
            services.rating_save(
                assignment=assignment, question=questions["overall"], answer=overall
            )
            services.rating_save(assignment=assignment, question=questions["harm"], answer=harm)
            services.rating_save(
                assignment=assignment, question=questions["comment"], answer=f"note {number}"
            )
            if submit_all or item != items[-1]:
                services.assignment_submit(assignment=assignment)
    return study


def item_by_number(study: Study, number: int):
    return list(study.items.order_by("token"))[number]
