"""The paper bundle's methods.md carries study text (the title, source labels, question
prompts and scale labels) that study admins and imported files chose. Opened in a Markdown
viewer, raw HTML in it would run: it is escaped, as the checklist export escapes its cells."""

import pytest

from annotation.models import Question, Source
from annotation.services.bundle import methods_text

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(document.cookie)</script>"
IMAGE = '<img src=x onerror="alert(1)">'


def test_html_in_the_studys_own_text_is_escaped_in_methods_md(open_study):
    open_study.title = f"Summaries {SCRIPT} & more\n# Not a heading"
    open_study.save(update_fields=["title"])
    source = Source.objects.filter(study=open_study).first()
    source.label = IMAGE
    source.save(update_fields=["label"])
    Question.objects.filter(study=open_study).update(prompt=f"Overall {SCRIPT}")

    methods = methods_text(open_study)

    assert "<script" not in methods
    assert "<img" not in methods
    assert methods.startswith(
        "# Summaries &lt;script&gt;alert(document.cookie)&lt;/script&gt; &amp; more "
        "# Not a heading: methods and results\n"
    )
    assert '&lt;img src=x onerror="alert(1)"&gt;' in methods
    assert "\n# Not a heading" not in methods
