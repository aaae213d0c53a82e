"""The dashboard's whole-study figures (progress by source, items short of their raters, data
quality per rater), stored by every statistics recomputation. Each one reads every assignment or
rating of the study, which a worker does in a second at a million ratings and a page should not
do at all; the recomputation follows every submit within seconds, so the dashboard shows them
"as of" its time."""

from django.utils import timezone

from annotation import selectors
from annotation.models import Study, StudyFigures


def study_figures_store(*, study: Study) -> StudyFigures:
    """Compute the figures from the study's ratings now and keep them (one row per study)."""
    figures, _ = StudyFigures.objects.update_or_create(
        study=study,
        defaults={
            "data": selectors.study_dashboard_figures_compute(study=study),
            "computed_at": timezone.now(),
        },
    )
    return figures
