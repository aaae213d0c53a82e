"""Agreement with adaptive extra ratings pooled in: the secondary figure of an adaptive study.

Extra raters go only to items whose first ratings disagreed, so the pooled coefficient reads
a panel enriched for items selected for disagreement. Which way that moves it is not known: the
extra ratings may agree with one another and with the first ones (the pooled figure can come
out above the primary one, as the part's own worked example does) or not. It is not comparable
to the primary figure (the regular ratings alone, which the study's other agreement results
are). It is stored as one more statistic of the question, labelled so, and only where a study
has extras."""

from dataclasses import asdict

from annotation.core import rubric
from annotation.core.stats.names import WITH_EXTRAS
from annotation.models import Assignment, Question, Result, Study
from annotation.selectors.adaptive import study_adaptive_counts
from annotation.services.statistics.agreement import _unit_names, estimates_for
from annotation.services.statistics.rows import human_rows, rows_digest
from annotation.services.statistics.store import Figure, Scope, store_family

WITH_EXTRAS_LABEL = (
    "includes extra ratings of items selected for disagreement: the direction of the bias is "
    "not known; not comparable to the primary figure"
)


def adaptive_agreement(study: Study, question: Question) -> Result:
    """Krippendorff's alpha over regular and extra ratings together, every source."""
    kinds = [Assignment.Kind.STUDY, Assignment.Kind.EXTRA]
    rows = human_rows(study, question, kinds=kinds)
    counts = asdict(study_adaptive_counts(study=study))

    def compute() -> dict[str, Figure]:
        columns = (_unit_names(rows), [row[3] for row in rows], [row[4] for row in rows])
        alpha = estimates_for(columns, question, study, alpha_only=True)["krippendorff_alpha"]
        figure = Figure.of(alpha, level=question.level, note=WITH_EXTRAS_LABEL, adaptive=counts)
        return {WITH_EXTRAS: figure}

    inputs = [rows_digest(rows), question.level, rubric.value_domain(question.spec), counts]
    return store_family(study, Scope(question), (WITH_EXTRAS,), inputs, compute)[0]
