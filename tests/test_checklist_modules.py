"""Modular checklists: TRIPOD-LLM and CHART as shipped, and the `modules` / `applies_to` format."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from checklists.definition_files import DefinitionError, item_applies, parse_definition
from checklists.models import ChecklistDefinition
from tests.test_definition_files import MINIMAL, shipped

MODULES = [
    {
        "key": "design",
        "title": "Research design",
        "options": [{"value": "E", "label": "Evaluation"}, {"value": "H", "label": "Healthcare"}],
    },
    {
        "key": "task",
        "title": "LLM task",
        "options": [{"value": "C", "label": "Classification"}, {"value": "QA", "label": "QA"}],
    },
]


def modular(**item_changes) -> dict:
    data = json.loads(json.dumps(MINIMAL))
    data["modules"] = json.loads(json.dumps(MODULES))
    data["sections"][0]["items"][0].update(item_changes)
    return data


def parse(data: dict):
    return parse_definition("modular.json", json.dumps(data))


def test_tripod_llm_has_19_main_items_49_rows_and_the_published_tags():
    spec = shipped("tripod-llm")
    assert [s.code for s in spec.sections] == [str(n) for n in range(1, 20)]
    assert len(spec.items) == 49
    assert [m.key for m in spec.modules] == ["design", "task"]
    assert [o.value for o in spec.modules[0].options] == ["M", "D", "E", "H"]
    tags = {item.code: dict(item.applies_to) for item in spec.items}
    assert tags["1"] == {}  # All designs, all tasks
    assert tags["3b"] == {"design": ("E", "H")}
    assert tags["6b"] == {"design": ("M", "D")}
    assert tags["6e"] == {"task": ("C", "OF")}
    assert tags["7a"] == {"task": ("QA", "IR", "DG", "SS", "MT")}
    assert tags["10"] == {"task": ("SS",)}
    assert tags["14c"] == {"design": ("H",)}
    # Rows coded All for both design and task: 28, as the reference notes count them.
    assert sum(not tag for tag in tags.values()) == 28
    evidence = {item.code: item.evidence for item in spec.items if item.evidence}
    assert evidence["7d"] == ("raters", "blinding", "questions", "agreement")
    assert evidence["19d"] == ("oversight",)
    assert "unconfirmed" in next(i.guidance for i in spec.items if i.code == "7a")


def test_chart_has_12_items_and_39_subitems_with_the_published_codes():
    spec = shipped("chart")
    assert [s.code for s in spec.sections] == [str(n) for n in range(1, 13)]
    codes = [item.code for item in spec.items]
    assert len(codes) == 39
    assert sum(any(c in code for c in "iv") for code in codes) == 9  # 5ai..12cii
    assert codes[:4] == ["1a", "1b", "2a", "2b"]
    assert codes[codes.index("5a") : codes.index("5b") + 1] == ["5a", "5ai", "5aii", "5aiii", "5b"]
    assert "8" in codes
    assert "12cii" in codes
    assert not spec.modules
    assert not any(item.applies_to for item in spec.items)
    evidence = {item.code: item.evidence for item in spec.items if item.evidence}
    assert evidence["7biii"] == ("blinding",)
    assert evidence["6b"] == ("queries",)


@pytest.mark.parametrize(
    ("data", "path", "reason"),
    [
        (
            modular(applies_to={"design": ["X"]}),
            "sections[0].items[0].applies_to.design[0]",
            "unknown design 'X'; known: E, H",
        ),
        (
            modular(applies_to={"colour": ["E"]}),
            "sections[0].items[0].applies_to",
            "unknown key 'colour'",
        ),
        (
            modular(applies_to={"design": []}),
            "sections[0].items[0].applies_to.design",
            "non-empty list",
        ),
        (
            modular(applies_to={"design": ["E", "E"]}),
            "sections[0].items[0].applies_to.design[1]",
            "appears twice",
        ),
        (
            {**MINIMAL, "sections": modular(applies_to={"task": ["C"]})["sections"]},
            "sections[0].items[0].applies_to",
            "declares no `modules`",
        ),
        (
            {**modular(), "modules": [{**MODULES[0], "options": [{"value": "e f", "label": "x"}]}]},
            "modules[0].options[0].value",
            "a code such as E or QA",
        ),
        ({**modular(), "modules": [MODULES[0], MODULES[0]]}, "modules[1].key", "appears twice"),
    ],
)
def test_a_bad_applies_to_tag_or_module_is_named(data, path, reason):
    with pytest.raises(DefinitionError) as caught:
        parse(data)
    assert caught.value.filename == "modular.json"
    assert caught.value.path == path
    assert reason in caught.value.reason


def test_tags_are_kept_in_the_modules_order_whatever_the_files_order():
    one = parse(modular(applies_to={"task": ["QA"], "design": ["H"]}))
    other = parse(modular(applies_to={"design": ["H"], "task": ["QA"]}))
    assert one.items[0].applies_to == (("design", ("H",)), ("task", ("QA",)))
    assert one.content_hash == other.content_hash


def test_an_item_applies_when_it_shares_an_option_in_every_tagged_module():
    tags = {"design": ["E", "H"], "task": ["C"]}
    assert item_applies(tags, {}) is True  # no scope chosen yet: everything shows
    assert item_applies(tags, {"design": ["H"], "task": ["C", "QA"]}) is True
    assert item_applies(tags, {"design": ["H"], "task": ["QA"]}) is False
    assert item_applies(tags, {"design": ["M"], "task": ["C"]}) is False
    assert item_applies({}, {"design": ["M"], "task": ["QA"]}) is True


@pytest.mark.django_db
def test_the_load_command_loads_all_four_and_keeps_tags_and_modules():
    out = StringIO()
    call_command("load_checklists", stdout=out)
    for slug in ("mi-claim-gen", "elevate-genai", "tripod-llm", "chart"):
        assert f"{slug} loaded as revision 1" in out.getvalue()
    tripod = ChecklistDefinition.objects.get(slug="tripod-llm")
    assert tripod.is_modular
    assert tripod.modules[1]["key"] == "task"
    assert tripod.items.get(code="6e").applies_to == {"task": ["C", "OF"]}
    chart = ChecklistDefinition.objects.get(slug="chart")
    assert not chart.is_modular
    assert chart.items.count() == 39
    assert ChecklistDefinition.objects.get(slug="mi-claim-gen").modules == []
