"""Omission questions (MED-OMIT) as the rater page's form carries them: a checkbox per fact named
`omitted` or `wrong` with the fact's id, beside the question's usual `answer` boxes for "none
omitted, none wrong" and "not applicable". Plain data, no Django."""

from annotation.core import rubric


def omission_posted(answer_values: list[str], *, omitted: list[str], wrong: list[str]) -> object:
    """The answer an omission form posted, for `rubric.parse_answer`. The page's script keeps
    "none" and "not applicable" exclusive of the ticked facts; without it, they win."""
    if rubric.NA in answer_values:
        return rubric.NA
    if rubric.NONE in answer_values:
        return rubric.NONE
    return {"omitted": omitted, "wrong": wrong}


def omission_fields(answer: object) -> dict[str, list[str]]:
    """A stored answer as the form posts it: the inverse of `omission_posted`."""
    if answer in (rubric.NA, rubric.NONE):
        return {"answer": [answer]}
    if not isinstance(answer, dict):
        return {}
    return {key: list(answer[key]) for key in ("omitted", "wrong") if answer.get(key)}


def marked_facts(facts: list[dict], answer: object) -> list[dict]:
    """The case's facts in order, each with whether this answer marks it omitted or wrong."""
    marked = answer if isinstance(answer, dict) else {}
    return [
        {
            "id": fact["id"],
            "text": fact["text"],
            "omitted": fact["id"] in marked.get("omitted", ()),
            "wrong": fact["id"] in marked.get("wrong", ()),
        }
        for fact in facts
    ]
