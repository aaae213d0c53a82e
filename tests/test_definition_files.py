"""Checklist definition files: the shipped instruments, and malformed files named precisely."""

import json

import pytest

from checklists.definition_files import DefinitionError, parse_definition
from checklists.services import definition_files_shipped

MINIMAL = {
    "format": 1,
    "slug": "tiny",
    "title": "Tiny checklist",
    "version": "1",
    "citation": "Nobody (2026).",
    "source_url": "https://example.org/tiny",
    "sections": [
        {
            "code": "1",
            "title": "Only section",
            "items": [
                {"code": "1.1", "prompt": "Is it reported?", "kind": "yes_no_na"},
                {
                    "code": "1.2",
                    "prompt": "Which?",
                    "kind": "single_choice",
                    "choices": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}],
                },
            ],
        }
    ],
}


def shipped(slug: str):
    for path in definition_files_shipped():
        spec = parse_definition(path.name, path.read_text())
        if spec.slug == slug:
            return spec
    raise AssertionError(f"{slug} is not shipped")


def test_mi_claim_gen_has_six_parts_and_23_items_with_its_tick_boxes_and_tiers():
    spec = shipped("mi-claim-gen")
    assert spec.version == "2024-06"
    assert [s.code for s in spec.sections] == ["1", "2", "3-4", "5", "6"]  # parts 3 and 4 share
    assert len(spec.items) == 23
    kinds = {item.code: item.kind for item in spec.items}
    multiple = [code for code, kind in kinds.items() if kind == "multiple_choice"]
    assert multiple == ["1.5", "3.3", "5.3"]
    assert [code for code, kind in kinds.items() if kind == "single_choice"] == ["6.1"]
    tiers = next(item for item in spec.items if item.code == "6.1").choices
    assert [c.value for c in tiers] == ["tier_1", "tier_2a", "tier_2b", "tier_3"]
    output_types = next(item for item in spec.items if item.code == "1.5").choices
    assert [c.value for c in output_types] == ["categorical", "continuous", "unstructured"]
    evidenced = {item.code for item in spec.items if item.evidence}
    assert {"1.4", "3.2", "3.3", "3.4", "6.1", "6.2a"} <= evidenced
    assert "arXiv:2403.02558" in spec.citation


def test_elevate_genai_has_the_ten_domains_labelled_as_our_operationalisation():
    spec = shipped("elevate-genai")
    assert [s.title for s in spec.sections] == [
        "Model characteristics",
        "Accuracy assessment",
        "Comprehensiveness assessment",
        "Factuality verification",
        "Reproducibility protocols and generalizability",
        "Robustness checks",
        "Fairness and bias",
        "Deployment context and efficiency metrics",
        "Calibration and uncertainty",
        "Security and privacy",
    ]
    assert "operationalisation" in spec.notice
    for section in spec.sections:
        rating = section.items[-1]
        assert rating.kind == "single_choice"
        assert [c.label for c in rating.choices] == [
            "Clearly reported",
            "Ambiguous",
            "Not reported",
        ]
        assert len(section.items) >= 3


def test_json_definitions_read_like_yaml():
    spec = parse_definition("tiny.json", json.dumps(MINIMAL))
    assert [item.code for item in spec.items] == ["1.1", "1.2"]


# The hashes MI-CLAIM-GEN and ELEVATE-GenAI had before definitions gained modules and
# applies-to tags: a change to the format or the hash that altered them would load every
# installation's copy as a new revision.
SHIPPED_HASHES = {
    "mi-claim-gen": "869b7cec3ca56ca2f2f5d4dfa7f7b2ed7cf46c706b1224dc2707f9889968c4dd",
    "elevate-genai": "f4fbc3f2e919e4da27fe7e2c36a93c5f5e9c3d0b52f8fb78c3db831241fcffe0",
}


@pytest.mark.parametrize("slug", sorted(SHIPPED_HASHES))
def test_checklists_without_modules_keep_their_content_hash(slug):
    assert shipped(slug).content_hash == SHIPPED_HASHES[slug]


def test_the_content_hash_ignores_comments_and_layout():
    text = json.dumps(MINIMAL)
    yaml_text = "# a comment\n" + json.dumps(MINIMAL, indent=4)
    assert parse_definition("a.json", text).content_hash == (
        parse_definition("a.yaml", yaml_text).content_hash
    )


def mutated(change) -> str:
    data = json.loads(json.dumps(MINIMAL))
    change(data)
    return json.dumps(data)


def _item(data, index=0):
    return data["sections"][0]["items"][index]


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        (lambda d: d.pop("citation"), "citation", "required text is missing"),
        (lambda d: d.update(format=2), "format", "must be 1"),
        (lambda d: d.update(slug="Not A Slug"), "slug", "lowercase words"),
        (lambda d: d.update(sections=[]), "sections", "non-empty list"),
        (lambda d: d.update(colour="red"), "", "unknown key 'colour'"),
        (lambda d: _item(d).pop("prompt"), "sections[0].items[0].prompt", "required text"),
        (lambda d: _item(d).update(kind="essay"), "sections[0].items[0].kind", "'essay'"),
        (
            lambda d: _item(d).update(choices=[{"value": "x", "label": "X"}]),
            "sections[0].items[0].choices",
            "takes no choices",
        ),
        (
            lambda d: _item(d, 1)["choices"].append({"value": "a", "label": "Again"}),
            "sections[0].items[1].choices[2].value",
            "appears twice",
        ),
        (
            lambda d: _item(d, 1).update(choices=[{"value": "a", "label": "A"}]),
            "sections[0].items[1].choices",
            "at least two choices",
        ),
        (
            lambda d: _item(d).update(evidence=["horoscope"]),
            "sections[0].items[0].evidence[0]",
            "unknown evidence key 'horoscope'",
        ),
        (lambda d: _item(d, 1).update(code="1.1"), "sections[0].items[1].code", "appears twice"),
        (lambda d: _item(d).update(tag="ancient"), "sections[0].items[0].tag", "'ancient'"),
        (lambda d: d.update(source_url="ftp://x"), "source_url", "http(s)"),
        # Unquoted, YAML reads 1.10 as 1.1: a code must be quoted text.
        (lambda d: _item(d).update(code=1.1), "sections[0].items[0].code", "quoted text"),
        (lambda d: d.update(title="T" * 201), "title", "at most 200 characters, got 201"),
        (
            lambda d: _item(d).update(code="1." + "9" * 20),
            "sections[0].items[0].code",
            "at most 20",
        ),
        (
            lambda d: _item(d, 1)["choices"][0].update(exclusive=True),
            "sections[0].items[1].choices[0].exclusive",
            "only a multiple-choice item",
        ),
    ],
)
def test_a_malformed_definition_names_file_path_and_reason(change, path, reason):
    with pytest.raises(DefinitionError) as caught:
        parse_definition("broken.json", mutated(change))
    assert caught.value.filename == "broken.json"
    assert caught.value.path == path
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"broken.json: {path or 'top level'}: ")


def test_a_file_that_is_not_yaml_says_so():
    with pytest.raises(DefinitionError, match=r"bad.yaml: top level: not valid YAML"):
        parse_definition("bad.yaml", "sections: [unclosed")
