"""Can an LLM judge stand in for the clinicians? Three answers for one question:

- `judge_vs_humans` (`ceiling`): the judge's agreement with each clinician and with the
  clinicians' majority, beside the clinicians' own leave-one-rater-out ceiling on the same
  units;

- `alternative_annotator_test` (`annotator_test`): the Alternative Annotator Test of Calderon,
  Reichart & Dror (ACL 2025, arXiv 2501.10970), and `aat_across` to correct several questions'
  tests together;

- `consistency` (`self_consistency`): how often the judge repeats its own modal answer (Pangakis
  et al. 2023).

`diagnostics` holds what a reviewer asks beside them (imported from the module, not shown in the
app yet): length bias, self-preference and calibration, each against the clinicians with a case
bootstrap interval.

`common` holds what the three share: the paper's thresholds, the judge's answers by unit, and
the clinicians' `majority`.

Clinicians' ratings come as long data (`Observation(unit, rater, value)`), the judge's answers
as unit -> value (a mapping, or (unit, value) pairs), values already in canonical orientation
and "not applicable" left out. Plain data in, plain data out: no Django here. Modules are not
named after the functions they hold, which would hide them on the package.
"""

from annotation.core.stats.judges.annotator_test import (
    AcrossQuestions,
    AlternativeAnnotatorTest,
    AnnotatorTest,
    aat_across,
    alternative_annotator_test,
)
from annotation.core.stats.judges.ceiling import (
    Agreement,
    CeilingRow,
    JudgeVsHumans,
    judge_vs_humans,
)
from annotation.core.stats.judges.common import (
    EPSILON_CROWD,
    EPSILON_EXPERTS,
    EPSILON_SKILLED,
    MAJORITY_RULE,
    MIN_ANNOTATORS,
    MIN_INSTANCES,
    TIE_TOLERANCE,
    JudgeAnswers,
    Value,
    majority,
)
from annotation.core.stats.judges.self_consistency import Consistency, consistency

__all__ = [
    "AcrossQuestions",
    "Agreement",
    "AlternativeAnnotatorTest",
    "AnnotatorTest",
    "CeilingRow",
    "Consistency",
    "EPSILON_CROWD",
    "EPSILON_EXPERTS",
    "EPSILON_SKILLED",
    "JudgeAnswers",
    "JudgeVsHumans",
    "MAJORITY_RULE",
    "MIN_ANNOTATORS",
    "MIN_INSTANCES",
    "TIE_TOLERANCE",
    "Value",
    "aat_across",
    "alternative_annotator_test",
    "consistency",
    "judge_vs_humans",
    "majority",
]
