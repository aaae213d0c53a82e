from collections import Counter

import pytest
from django.core.exceptions import ValidationError

from annotation import design, services
from annotation.models import Assignment, Item, Study

pytestmark = pytest.mark.django_db


def test_opening_stores_a_balanced_manifest(open_study, raters):
    assert open_study.status == Study.Status.OPEN
    assert Item.objects.filter(study=open_study).count() == 6
    per_item = Counter(a.item_id for a in open_study.assignments.all())
    assert set(per_item.values()) == {2}
    loads = Counter(a.rater_id for a in open_study.assignments.all())
    assert sorted(loads.values()) == [4, 4, 4]


def test_stored_manifest_is_the_seeded_design(open_study):
    assignments = list(open_study.assignments.select_related("item"))
    placements = design.assign_balanced(
        items=[i.token for i in open_study.items.all()],
        raters=sorted({str(a.rater_id) for a in assignments}),
        k=2,
        seed=1234,
    )
    stored = {(str(a.rater_id), a.item.token, a.position) for a in assignments}
    assert stored == {(p.rater, p.item, p.position) for p in placements}


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
    assert not study.items.exists()


def test_pseudonyms_follow_the_order_raters_joined(draft_study, raters):
    assert list(
        draft_study.memberships.filter(role="rater")
        .order_by("pseudonym")
        .values_list("pseudonym", "user__username")
    ) == [("R1", "rater1"), ("R2", "rater2"), ("R3", "rater3")]
