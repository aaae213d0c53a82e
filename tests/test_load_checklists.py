"""`manage.py load_checklists`: all or nothing, idempotent, and a changed file is a new revision."""

import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from checklists.models import ChecklistDefinition, ChecklistItem, Response
from checklists.services import DEFINITIONS_DIR, definition_files_shipped, report_create
from tests.factories import UserFactory
from tests.support.checklists import answer

pytestmark = pytest.mark.django_db


def load(*paths) -> str:
    out = StringIO()
    call_command("load_checklists", *map(str, paths), stdout=out)
    return out.getvalue()


def test_both_shipped_checklists_load():
    output = load()
    assert "mi-claim-gen loaded as revision 1" in output
    assert "elevate-genai loaded as revision 1" in output
    mi_claim = ChecklistDefinition.objects.get(slug="mi-claim-gen")
    assert mi_claim.items.count() == 23
    assert mi_claim.sections.count() == 5
    assert ChecklistDefinition.objects.get(slug="elevate-genai").sections.count() == 10
    item = mi_claim.items.get(code="3.3")
    assert item.kind == "multiple_choice"
    assert item.evidence == ["questions"]
    assert item.section.code == "3-4"


def test_reloading_unchanged_files_is_a_no_op():
    load()
    counts = (ChecklistDefinition.objects.count(), ChecklistItem.objects.count())
    output = load()
    assert "mi-claim-gen unchanged at revision 1" in output
    assert (ChecklistDefinition.objects.count(), ChecklistItem.objects.count()) == counts


def test_a_malformed_file_loads_nothing_not_even_the_good_files(tmp_path):
    bad = tmp_path / "broken.yaml"
    text = (DEFINITIONS_DIR / "elevate-genai.yaml").read_text()
    bad.write_text(
        text.replace("slug: elevate-genai", "slug: broken-one").replace(
            "kind: single_choice", "kind: essay", 1
        )
    )
    with pytest.raises(CommandError) as caught:
        load(*definition_files_shipped(), bad)
    message = str(caught.value)
    assert message.startswith("Nothing was loaded. broken.yaml: sections[0].items[4].kind: ")
    assert "'essay'" in message
    assert ChecklistDefinition.objects.count() == 0


def test_two_files_with_one_slug_are_refused(tmp_path):
    shipped = DEFINITIONS_DIR / "mi-claim-gen.yaml"
    copy = tmp_path / "copy.yaml"
    shutil.copy(shipped, copy)
    with pytest.raises(CommandError, match=r"copy.yaml: slug: slug 'mi-claim-gen' is also used"):
        load(shipped, copy)
    assert ChecklistDefinition.objects.count() == 0


def test_a_changed_file_is_a_new_revision_and_old_answers_stay_with_theirs(tmp_path):
    shipped = Path(DEFINITIONS_DIR / "mi-claim-gen.yaml")
    assert shipped.name == "mi-claim-gen.yaml"
    load(shipped)
    first = ChecklistDefinition.objects.get(slug="mi-claim-gen")
    author = UserFactory(username="author")
    report = report_create(lead=author, definition=first, title="Earlier manuscript")
    assessment = report.assessments.get()
    answer(assessment, "1.2", "yes", location="p. 3")
    old_prompt = first.items.get(code="1.2").prompt

    edited = tmp_path / "mi-claim-gen.yaml"
    edited.write_text(
        shipped.read_text().replace(
            "The research question is stated explicitly.",
            "The research question and hypothesis are stated explicitly.",
        )
    )
    output = load(edited)

    assert "mi-claim-gen loaded as revision 2" in output
    second = ChecklistDefinition.objects.get(slug="mi-claim-gen", revision=2)
    assert second.items.get(code="1.2").prompt.startswith("The research question and hypothesis")
    response = Response.objects.get(assessment=assessment)
    assert response.item.definition == first
    assert response.item.prompt == old_prompt
    assert (response.answer, response.location) == ("yes", "p. 3")
    # A comment-only edit of the new file changes nothing.
    edited.write_text("# reviewed 2026-11-24\n" + edited.read_text())
    assert "unchanged at revision 2" in load(edited)


def test_going_back_to_an_earlier_text_is_a_new_revision_too(tmp_path):
    shipped = Path(DEFINITIONS_DIR / "mi-claim-gen.yaml")
    original = shipped.read_text()
    path = tmp_path / "mi-claim-gen.yaml"
    path.write_text(original.replace("stated explicitly", "stated plainly"))
    load(shipped)
    load(path)
    path.write_text(original)
    assert "mi-claim-gen loaded as revision 3" in load(path)
    newest = ChecklistDefinition.objects.get(slug="mi-claim-gen", revision=3)
    assert (
        newest.content_hash
        == ChecklistDefinition.objects.get(revision=1, slug="mi-claim-gen").content_hash
    )
