"""The statistics from the command line, with no Django and no settings:
`python -m annotation.core.stats agreement FILE.csv --level ordinal` prints inter-rater agreement
for ratings collected anywhere as one JSON object. `manage.py agreement` is the same command.
`python -m annotation.core.stats plan PILOT.csv --fom auc --difference 0.05` sizes a reader
study from a pilot (`planning_cli`); `manage.py plan_study` is the same command.

Errors a user can fix (an unreadable file, a bad option) are `UsageError`s with one line naming
the file, row and field; `main` prints them and exits with status 1.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from annotation.core.stats.bootstrap import DEFAULT_RESAMPLES, Bootstrap
from annotation.core.stats.data import LEVELS, DataError, category_label
from annotation.core.stats.estimate import interval_dict
from annotation.core.stats.longfile import read_long_csv
from annotation.core.stats.mrmc_cli import MRMC_HELP, add_mrmc_arguments, mrmc_report, mrmc_table
from annotation.core.stats.names import RATERS_LIKE_THESE, THESE_RATERS
from annotation.core.stats.planning_cli import (
    PLAN_HELP,
    PlanError,
    add_plan_arguments,
    plan_report,
    plan_table,
)
from annotation.core.stats.reported import reported_coefficients

# The coefficients this command reports (the study statistics have a few more, e.g. Gwet's AC2).
REPORTED = (
    "krippendorff_alpha",
    "percent_agreement",
    "fleiss_kappa",
    "gwet_ac1",
    "cohen_kappa",
    "cohen_kappa_linear",
    "cohen_kappa_quadratic",
)

# Which question an interval answers, in plain words. Resampling units (cases) holds the raters
# fixed; an interval whose model also draws the raters answers the wider question.
INTERVAL_QUESTIONS = {
    THESE_RATERS: "how the coefficient would vary over new cases rated by these same raters",
    RATERS_LIKE_THESE: "how it would vary over new cases rated by new raters drawn like these "
    "(the question for clinicians in general)",
}
# How each question's interval is made, as a study makes it (`reported`).
INTERVAL_METHODS = {
    THESE_RATERS: "the headline interval ('ci'). BCa bootstrap over cases (Efron 1987) for "
    "Krippendorff's alpha and the kappa-type coefficients (Fleiss, Cohen, Gwet), which the "
    "coverage benchmark shows holds its 95% better with few cases, the percentile interval "
    "beside it; percentile bootstrap over cases for percent agreement. ICC(3,1) and ICC(3,k): "
    "McGraw & Wong's (1996) F interval.",
    RATERS_LIKE_THESE: "in 'other_intervals'. The variance over cases (from the percentile "
    "bootstrap) plus the jackknife over raters (Gwet 2008's two parts), a t interval on "
    "Satterthwaite's df, cut back to the coefficient's range; three or more raters, else a "
    "reason. ICC's one-way and two-way random forms (ICC(1), ICC(2)): their headline interval, "
    "named in 'interval_method'.",
}
ICC_FIXED_RATERS = (
    "ICC(3) is about these raters only (two-way mixed model, raters fixed): it has no interval "
    "for raters like these; ICC(2) answers that question"
)

AGREEMENT_HELP = (
    "Inter-rater agreement for ratings collected anywhere: a CSV with the header "
    "unit,rater,value (an empty value, NA or '.' is a missing rating). Prints every "
    "coefficient that applies, each with a seeded 95% interval for these raters (cases random) "
    "and, with three or more raters, one for raters like these (raters and cases random), each "
    "naming how it was made and the question it answers."
)
CATEGORIES_HELP = (
    "Write --categories=-2,-1,0,1,2 when the first value is negative. The scale's values in "
    "order, comma-separated (e.g. 1,2,3,4,5). Weights and Gwet's chance term count positions in "
    "this list, so give unused values too. Default: the values observed."
)


class UsageError(Exception):
    """A problem the user can fix, in one line."""


def add_agreement_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path)
    parser.add_argument("--level", choices=LEVELS, required=True)
    parser.add_argument("--categories", help=CATEGORIES_HELP)
    parser.add_argument("--bootstrap", type=int, default=DEFAULT_RESAMPLES, metavar="N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", choices=["json"], default="json")


def _declared(categories: str | None) -> list[str] | None:
    if categories is None:
        return None
    declared = [value.strip() for value in categories.split(",")]
    if not all(declared):
        raise UsageError(f"--categories: an empty value in {categories!r}.")
    return declared


def _with_icc_questions(form: str, data: dict) -> dict:
    """An ICC form's dict; ICC(3)'s saying why it has no interval for raters like these."""
    if form.startswith("ICC3"):
        entry = interval_dict(None, "", RATERS_LIKE_THESE, "")
        data.setdefault("other_intervals", []).append({**entry, "reason": ICC_FIXED_RATERS})
    return data


def agreement_report(
    file: Path, *, level: str, categories: str | None, bootstrap: int, seed: int
) -> dict:
    """Every coefficient that applies to the long CSV `file`, as one JSON-ready object."""
    if bootstrap < 0:
        raise UsageError("--bootstrap: give 0 (no intervals) or more resamples.")
    if seed < 0:
        raise UsageError("--seed: give a whole number of 0 or more.")
    declared = _declared(categories)
    try:
        content = file.read_bytes()
    except OSError as exc:
        raise UsageError(f"{file}: {exc.strerror}.") from None
    try:
        ratings = read_long_csv(file.name, content, level=level, categories=declared)
    except DataError as exc:
        raise UsageError(str(exc)) from None
    if len(ratings.raters) < 2:
        raise UsageError(f"{file.name}: agreement needs two or more raters; found one.")
    resampling = Bootstrap(resamples=bootstrap, seed=seed) if bootstrap else None
    results = reported_coefficients(ratings, bootstrap=resampling)
    found = {key: results[key].as_dict() for key in REPORTED if key in results}
    if "icc" in results:
        found["icc"] = {
            form: _with_icc_questions(form, e.as_dict()) for form, e in results["icc"].items()
        }
    return {
        "n_units": len(ratings.units),
        "n_raters": len(ratings.raters),
        "n_ratings": ratings.n_ratings,
        "level": level,
        "categories": [category_label(c) for c in ratings.categories],
        "bootstrap": {"resamples": bootstrap, "seed": seed},
        "interval_questions": INTERVAL_QUESTIONS,
        "interval_methods": INTERVAL_METHODS,
        "coefficients": found,
    }


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m annotation.core.stats")
    commands = parser.add_subparsers(dest="command", required=True)
    add_agreement_arguments(commands.add_parser("agreement", description=AGREEMENT_HELP))
    add_plan_arguments(commands.add_parser("plan", description=PLAN_HELP))
    add_mrmc_arguments(commands.add_parser("mrmc", description=MRMC_HELP))
    args = parser.parse_args(argv)
    if args.command == "plan":
        return _plan(args, stdout or sys.stdout)
    if args.command == "mrmc":
        return _mrmc(args, stdout or sys.stdout)
    options = {k: v for k, v in vars(args).items() if k not in ("command", "file", "format")}
    try:
        report = agreement_report(args.file, **options)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2), file=stdout or sys.stdout)
    return 0


def _mrmc(args: argparse.Namespace, stdout: TextIO) -> int:
    options = {k: v for k, v in vars(args).items() if k not in ("command", "file", "json")}
    try:
        report = mrmc_report(args.file, **options)
    except PlanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if args.json else mrmc_table(report), file=stdout)
    return 0


def _plan(args: argparse.Namespace, stdout: TextIO) -> int:
    options = {k: v for k, v in vars(args).items() if k not in ("command", "file", "json")}
    try:
        report = plan_report(args.file, **options)
    except PlanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if args.json else plan_table(report), file=stdout)
    return 0
