import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotation.models import Assignment, Output, Study

pytestmark = pytest.mark.django_db


def test_demo_loads_once_however_often_it_runs(capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "Kept the existing demo study" in out
    assert "rater4   / evalapp-rater" in out
    assert Study.objects.count() == 2
    assert get_user_model().objects.count() == 5
    open_study = Study.objects.get(status="open")
    assert Output.objects.filter(case__study=open_study).count() == 24
    assert Assignment.objects.filter(study=open_study).count() == 48
    loads = {
        Assignment.objects.filter(study=open_study, rater=u).count()
        for u in get_user_model().objects.filter(username__startswith="rater")
    }
    assert loads == {12}
