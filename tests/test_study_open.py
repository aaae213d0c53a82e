from collections import Counter

import pytest
from django.core.exceptions import ValidationError

from annotation import services
from annotation.core import design
from annotation.models import Assignment, Item, Study

pytestmark = pytest.mark.django_db


def test_opening_stores_a_balanced_manifest(open_study, raters):
    assert open_study.status == Study.Status.OPEN
    assert Item.objects.filter(study=open_study).count() == 6
    per_item = Counter(a.item_id for a in open_study.assignments.all())
    assert set(per_item.values()) == {2}
    loads = Counter(a.rater_id for a in open_study.assignments.all())
    assert sorted(loads.values()) == [4, 4, 4]


def manifest(study) -> set[tuple]:
    """The stored manifest in terms that mean the same in any database."""
    pseudonyms = dict(study.memberships.values_list("user_id", "pseudonym"))
    return {
        (
            pseudonyms[a.rater_id],
            a.item.output.case.external_id,
            a.item.output.source.label,
            a.position,
        )
        for a in study.assignments.select_related("item__output__case", "item__output__source")
    }


def test_stored_manifest_is_the_seeded_design(open_study):
    placements = design.assign_balanced(
        items=sorted({f"{case}\x1f{source}" for _, case, source, _ in manifest(open_study)}),
        raters=["R1", "R2", "R3"],
        k=2,
        seed=1234,
    )
    expected = {(p.rater, *p.item.split("\x1f"), p.position) for p in placements}
    assert manifest(open_study) == expected


def test_same_file_raters_and_seed_give_the_same_manifest(open_study, study_admin, raters):
    from tests.conftest import STUDY_ROWS

    copy = services.study_create(
        creator=study_admin, title="Copy", raters_per_item=2, question_prompt="q", seed=1234
    )
    services.study_import_file(study=copy, filename="study.csv", content=STUDY_ROWS)
    services.study_add_raters(study=copy, users=raters)
    services.study_open(study=copy)
    assert manifest(copy) == manifest(open_study)


def test_a_study_opens_once(open_study):
    with pytest.raises(ValidationError, match="Only a draft"):
        services.study_open(study=open_study)
    assert Assignment.objects.filter(study=open_study).count() == 12


def test_opening_needs_enough_raters(study_admin, raters):
    study = services.study_create(
        creator=study_admin, title="t", raters_per_item=4, question_prompt="q"
    )
    services.study_import_file(
        study=study, filename="s.csv", content=b"case_id,input,source,output\nc1,Q,M,A\n"
    )
    services.study_add_raters(study=study, users=raters)
    with pytest.raises(ValidationError, match="needs 4 raters, but the study has 3"):
        services.study_open(study=study)


def test_pseudonyms_follow_the_order_raters_joined(draft_study, raters):
    assert list(
        draft_study.memberships.filter(role="rater")
        .order_by("pseudonym")
        .values_list("pseudonym", "user__username")
    ) == [("R1", "rater1"), ("R2", "rater2"), ("R3", "rater3")]


def test_a_study_showing_references_that_are_also_outputs_does_not_open(draft_study):
    from annotation.models import Case

    case = Case.objects.get(study=draft_study, external_id="c1")
    case.reference = "Is my cough from lisinopril?"  # the expert's output for c1, word for word
    case.save()
    draft_study.show_reference = True
    draft_study.save()
    with pytest.raises(ValidationError, match="Case 'c1': its reference is also the text"):
        services.study_open(study=draft_study)
    draft_study.refresh_from_db()
    assert draft_study.status == "draft"
