"""The corrections of a correction question, summarised per source and stored: edit distances,
the word edit rate and the share accepted unchanged (`annotation.core.stats.corrections`). The
edit rate is also the question's code, so the score summaries and paired tests of
`comparisons` compare the sources on it too."""

from annotation.core.stats.corrections import CorrectionRow, correction_summary
from annotation.core.stats.names import CORRECTION_SUMMARY
from annotation.models import Question, Result, Study
from annotation.selectors import study_correction_lines
from annotation.services.statistics.store import Figure, bootstrap_for, store_by_source


def question_corrections(study: Study, question: Question) -> list[Result]:
    lines = study_correction_lines(study=study, question=question, analysed_only=True)
    by_source: dict[str, list[CorrectionRow]] = {}
    for line in lines:
        row = CorrectionRow(
            line.case_id, line.rater, line.chars, line.words, line.rate, line.unchanged
        )
        by_source.setdefault(line.source, []).append(row)
    fields = ("source", "case_id", "rater", "chars", "words", "rate", "unchanged")
    inputs = [[[getattr(line, name) for name in fields] for line in lines]]

    def compute() -> dict:
        bootstrap = bootstrap_for(study)
        figures = {}
        for source, rows in sorted(by_source.items()):
            summary = correction_summary(rows, bootstrap=bootstrap)
            figures[(CORRECTION_SUMMARY, source)] = Figure(
                summary["edit_rate"]["value"],
                summary["n_cases"],
                summary["n_raters"],
                summary["n_ratings"],
                {**summary, "ci": summary["edit_rate"]["ci"], "headline": "edit_rate"},
            )
        return figures

    return store_by_source(study, question, (CORRECTION_SUMMARY,), inputs, compute)
