"""`plan`: study sizing from a pilot on the command line (`python -m annotation.core.stats plan`,
`manage.py plan_study`). The pilot is an MRMC long CSV, one row per reader, case and modality:
columns reader, case, modality, value (or rating) and, for the AUC, truth (1 = disease). Its
MRMC analysis gives the variance components; `stats.planning` turns them into the fewest cases
for each number of readers. With --width and --level instead, the pilot is agreement ratings
(unit, rater, value) and the plan is the cases for Krippendorff's alpha's interval that wide.
A table by default, one JSON object with --json.
"""

import argparse
import csv
import io
from pathlib import Path

from annotation.core.stats.bootstrap import DEFAULT_RESAMPLES, Bootstrap
from annotation.core.stats.data import LEVELS, DataError
from annotation.core.stats.longfile import read_long_csv
from annotation.core.stats.mrmc import FIGURES, mrmc
from annotation.core.stats.planning import (
    Pilot,
    PowerPlan,
    alpha_width_plan,
    cases_for_power,
    power_at,
)

PLAN_HELP = (
    "Study sizing from a pilot: a CSV with columns reader,case,modality,value (or rating) and, "
    "for --fom auc, truth. For each number of readers, the fewest cases giving --power to detect "
    "--difference between the two modalities, readers and cases random (Obuchowski-Rockette, "
    "Hillis's df; Hillis, Obuchowski & Berbaum 2011)."
)


class PlanError(ValueError):
    """A problem with the pilot file or the options, in one line."""


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path)
    parser.add_argument("--fom", choices=FIGURES, help="the figure of merit")
    parser.add_argument("--difference", type=float, help="the smallest that matters")
    parser.add_argument("--power", type=float, default=0.8)
    parser.add_argument("--alpha", type=float, default=0.05, help="the test's two-sided level")
    parser.add_argument("--readers", default="3-20", help="a range (3-20) or a list (4,6,8)")
    parser.add_argument("--json", action="store_true", help="one JSON object, not a table")
    width = parser.add_argument_group(
        "alpha's interval width",
        "Instead of --fom and --difference: the cases for a Krippendorff's alpha interval "
        "--width wide, from pilot ratings in the agreement format (unit,rater,value).",
    )
    width.add_argument("--width", type=float, help="the 95%% interval's width wanted")
    width.add_argument("--level", choices=LEVELS)
    width.add_argument("--categories", help="the scale's values in order, as for agreement")
    width.add_argument("--bootstrap", type=int, default=DEFAULT_RESAMPLES, metavar="N")
    width.add_argument("--seed", type=int, default=0)


def reader_counts(text: str) -> list[int]:
    """'3-20' or '4,6,8' as numbers of readers, each at least 2."""
    try:
        if "-" in text:
            first, last = (int(part) for part in text.split("-", 1))
            counts = list(range(first, last + 1))
        else:
            counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise PlanError(
            f"--readers: {text!r} is not a range like 3-20 or a list like 4,6,8."
        ) from None
    if not counts or min(counts) < 2:
        raise PlanError("--readers: every number of readers must be 2 or more.")
    return counts


def pilot_rows(file: Path, *, fom: str) -> tuple[list[tuple], dict | None]:
    """The (reader, case, modality, value) rows of the pilot CSV, and each case's truth."""
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise PlanError(f"{file}: {exc.strerror}.") from None
    except UnicodeDecodeError:
        raise PlanError(f"{file.name}: not UTF-8 text.") from None
    records = list(csv.DictReader(io.StringIO(text, newline="")))
    header = set(records[0]) if records else set()
    value = "value" if "value" in header else "rating"
    needed = {"reader", "case", "modality", value} | ({"truth"} if fom == "auc" else set())
    if missing := sorted(needed - header):
        raise PlanError(f"{file.name}: no column {', '.join(missing)} (or no rows).")
    rows = [
        (r["reader"], r["case"], r["modality"], _number(r[value], file.name, n, value))
        for n, r in enumerate(records, start=2)
    ]
    if fom != "auc":
        return rows, None
    truth: dict = {}
    for n, record in enumerate(records, start=2):
        if record["truth"].strip() not in ("0", "1"):
            raise PlanError(f"{file.name}, row {n}: truth must be 0 or 1.")
        if truth.setdefault(record["case"], int(record["truth"])) != int(record["truth"]):
            raise PlanError(f"{file.name}, row {n}: case {record['case']!r} has two truths.")
    return rows, truth


def _number(text: str | None, name: str, row: int, column: str) -> float:
    try:
        return float(text or "")
    except ValueError:
        raise PlanError(f"{name}, row {row}: {column} {text!r} is not a number.") from None


def plan_report(file: Path, **options) -> dict:
    """The plan from the pilot `file`, as one JSON-ready object: alpha's width plan when
    `width` is given, else the power plan."""
    if options.get("width") is not None:
        return width_report(file, **{k: options.get(k) for k in WIDTH_OPTIONS})
    if options.get("fom") is None or options.get("difference") is None:
        raise PlanError("give --fom and --difference (a power plan) or --width and --level.")
    return power_report(file, **{k: options[k] for k in POWER_OPTIONS})


POWER_OPTIONS = ("fom", "difference", "power", "alpha", "readers")
WIDTH_OPTIONS = ("width", "level", "categories", "bootstrap", "seed")


def width_report(
    file: Path,
    *,
    width: float,
    level: str | None,
    categories: str | None,
    bootstrap: int,
    seed: int,
) -> dict:
    """Cases for Krippendorff's alpha's case-bootstrap interval `width` wide."""
    if level is None:
        raise PlanError("--width needs --level (the ratings' level of measurement).")
    if bootstrap < 100:
        raise PlanError("--bootstrap: a width needs 100 or more resamples.")
    declared = [v.strip() for v in categories.split(",")] if categories else None
    try:
        ratings = read_long_csv(file.name, file.read_bytes(), level=level, categories=declared)
        plan = alpha_width_plan(ratings, width=width, bootstrap=Bootstrap(bootstrap, seed))
    except OSError as exc:
        raise PlanError(f"{file}: {exc.strerror}.") from None
    except ValueError as exc:  # DataError among them
        raise PlanError(f"{file.name}: {exc}") from None
    return plan.as_dict()


def power_report(
    file: Path, *, fom: str, difference: float, power: float, alpha: float, readers: str
) -> dict:
    """The pilot's MRMC analysis and the power plan."""
    counts = reader_counts(readers)
    rows, truth = pilot_rows(file, fom=fom)
    try:
        result = mrmc(rows, figure=fom, truth=truth)
    except DataError as exc:
        raise PlanError(f"{file.name}: {exc}") from None
    if len(result.modalities) != 2 or len(result.readers) < 2:
        raise PlanError(f"{file.name}: the pilot needs two modalities and two or more readers.")
    pilot = Pilot.from_components(result.components, cases=result.n_cases)
    try:
        plan = cases_for_power(
            pilot, difference=difference, readers=counts, power=power, alpha=alpha
        )
    except ValueError as exc:
        raise PlanError(str(exc)) from None
    at_pilot = [
        power_at(pilot, difference=difference, readers=j, cases=pilot.cases, alpha=alpha)
        for j in counts
    ]
    return _report(result, plan, at_pilot)


def _report(result, plan: PowerPlan, at_pilot: list[float]) -> dict:
    means = [sum(row) / len(row) for row in result.figures]
    data = plan.as_dict()
    for row, power in zip(data["rows"], at_pilot, strict=True):
        row["power_with_pilot_cases"] = power
    data["pilot_study"] = {
        "figure": result.figure,
        "modalities": list(result.modalities),
        "mean_figures": means,
        "observed_difference": means[0] - means[1],
        "readers": len(result.readers),
        "cases": result.n_cases,
        "covariance_method": result.components.covariance_method,
    }
    return data


def plan_table(report: dict) -> str:
    """The report as a few lines and a table, for reading in a terminal."""
    if "width" in report:
        return _width_lines(report)
    study, pilot = report["pilot_study"], report["pilot"]
    first, second = study["modalities"]
    at_pilot = f"power with {pilot['cases']} cases"
    lines = [
        f"Pilot: {study['readers']} readers, {study['cases']} cases, {study['figure']} "
        f"{first} {study['mean_figures'][0]:.4f}, {second} {study['mean_figures'][1]:.4f}.",
        f"Components (for {pilot['cases']} cases, {study['covariance_method']}): "
        f"Var {pilot['var']:.4g}, Cov1 {pilot['cov1']:.4g}, Cov2 {pilot['cov2']:.4g}, "
        f"Cov3 {pilot['cov3']:.4g}; reader x modality variance {pilot['interaction']:.4g}.",
        f"Fewest cases for power {report['power']:g} to detect a difference of "
        f"{report['difference']:g} at two-sided alpha {report['alpha']:g},",
        f"answering: {report['question']}.",
        "",
        f"{'readers':>7}  {'cases':>7}  {'power':>6}  {at_pilot:>22}",
    ]
    for row in report["rows"]:
        if row["cases"] is None:
            cases, power = "-", f"max {row['best']:.3f}"
        else:
            cases, power = str(row["cases"]), f"{row['power']:.3f}"
        lines.append(
            f"{row['readers']:>7}  {cases:>7}  {power:>6}  {row['power_with_pilot_cases']:>22.3f}"
        )
    if any(row["cases"] is None for row in report["rows"]):
        lines.append("-: no number of cases reaches the power (max: the most any gives).")
    return "\n".join(lines)


def _width_lines(report: dict) -> str:
    low, high = report["pilot_ci"]
    return "\n".join(
        [
            f"Pilot: {report['pilot_cases']} cases, Krippendorff's alpha "
            f"{report['pilot_value']:.3f}, 95% interval {low:.3f} to {high:.3f} "
            f"(width {high - low:.3f}; {report['pilot_method']}).",
            f"Cases for a width of {report['width']:g}: {report['cases']}, assuming "
            f"{report['approximation']}.",
            f"The interval answers: {report['question']}.",
        ]
    )
