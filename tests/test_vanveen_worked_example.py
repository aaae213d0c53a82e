"""The Van Veen et al. (2024) patient-question arm, as docs/statistics.md reports it: every
figure of the worked example recomputed from the published file, to the printed precision."""

import json
from collections import defaultdict

import pytest
from django.core.management import call_command

from annotation.core.stats import coefficients, compare
from annotation.core.stats.data import Observation, ratings_from
from annotation.core.stats.resampling import Bootstrap
from tests.support.vanveen import vanveen_rows

SCALE = [-2, -1, 0, 1, 2]
# question: (answers, mean, CI, Wilcoxon p over questions' means, ordinal alpha, ICC(1,1), ICC(1,k))
DOCUMENTED = {
    "completeness": (498, 0.315, (0.162, 0.473), 3.98e-4, 0.276, 0.276, 0.656),
    "correctness": (499, 0.114, (0.040, 0.186), 2.86e-3, 0.068, 0.070, 0.274),
    "conciseness": (499, 0.114, (0.042, 0.191), 2.25e-3, 0.064, 0.077, 0.293),
}


def model_minus_expert() -> dict[str, list[tuple[str, str, int]]]:
    found = defaultdict(list)
    for row in vanveen_rows():
        sign = 1 if row["shown_as_A"] == "model" else -1
        found[row["question"]].append(
            (row["sample"], row["reader"], int(row["score_as_shown"]) * sign)
        )
    return found


@pytest.mark.parametrize("question", DOCUMENTED)
def test_the_documented_figures_are_what_the_file_gives(question):
    n, mean, ci, p, alpha, icc1, icc1k = DOCUMENTED[question]
    answers = model_minus_expert()[question]
    bootstrap = Bootstrap(resamples=1000, seed=0)
    summary = compare.score_summary(answers, bootstrap=bootstrap, categories=SCALE)
    assert summary.n_ratings == n
    assert round(summary.mean.value, 3) == mean
    assert tuple(round(x, 3) for x in summary.mean.ci) == ci
    test = compare.wilcoxon(list(compare.case_means(answers).values()))
    assert float(f"{test.p_value:.2e}") == p
    observations = [Observation(case, reader, value) for case, reader, value in answers]
    ordinal = ratings_from(observations, level="ordinal", categories=SCALE)
    assert round(coefficients.krippendorff_alpha(ordinal).value, 3) == alpha
    interval = ratings_from(observations, level="interval", categories=SCALE)
    forms = coefficients.icc(interval)
    assert (round(forms["ICC1"].value, 3), round(forms["ICC1k"].value, 3)) == (icc1, icc1k)


def test_the_agreement_command_gives_the_documented_icc(tmp_path, capsys):
    path = tmp_path / "completeness.csv"
    lines = ["unit,rater,value"] + [
        f"{case},{reader},{value}" for case, reader, value in model_minus_expert()["completeness"]
    ]
    path.write_text("\n".join(lines) + "\n")
    call_command(
        "agreement", str(path), "--level", "interval", "--bootstrap", "0", "--format", "json"
    )
    out = json.loads(capsys.readouterr().out)
    assert round(out["coefficients"]["icc"]["ICC1"]["value"], 3) == 0.276
    assert out["n_ratings"] == 498
