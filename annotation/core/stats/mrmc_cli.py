"""`mrmc`: the multi-reader multi-case analysis of an imported reader study on the command line
(`python -m annotation.core.stats mrmc`, `manage.py mrmc`). The file is the long CSV `plan`
reads: one row per reader, case and modality, columns reader, case, modality, value (or rating)
and, for the AUC, truth (1 = disease). Every reader reads every case under every modality.

The output is what the published Obuchowski-Rockette software prints: the figure of merit of
each reader under each modality, the variance components, and for each question (readers and
cases random; readers fixed; cases fixed) the global test, each pair's difference with its
interval and each modality alone with its interval. A report by default, one JSON object with
--json.
"""

import argparse
from pathlib import Path

from annotation.core.stats.data import DataError
from annotation.core.stats.mrmc import COVARIANCES, FIGURES, mrmc
from annotation.core.stats.planning_cli import PlanError, pilot_rows

MAX_RESAMPLES = 100_000  # beyond it the answer no longer changes, and a typo could run for hours
MRMC_HELP = (
    "The multi-reader multi-case comparison of modalities (Obuchowski-Rockette with Hillis's "
    "degrees of freedom) of a crossed reader study: a CSV with columns reader,case,modality,"
    "value (or rating) and, for --fom auc, truth (1 = disease). Each difference and interval "
    "names the question it answers: readers and cases random, readers fixed, or cases fixed."
)


def add_mrmc_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path)
    parser.add_argument(
        "--fom",
        choices=FIGURES,
        required=True,
        help="the figure of merit: auc (against truth), mean (a score), proportion (0/1 per "
        "case: accuracy, top-k accuracy, a source preferred)",
    )
    parser.add_argument(
        "--covariance",
        choices=COVARIANCES,
        default="jackknife",
        help="covariances over cases: the jackknife (the published method) or a seeded bootstrap",
    )
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--level", type=float, default=0.95, help="the intervals' coverage")
    parser.add_argument("--json", action="store_true", help="one JSON object, not a report")


def mrmc_report(
    file: Path, *, fom: str, covariance: str, bootstrap: int, seed: int, level: float
) -> dict:
    """The MRMC analysis of `file` as one JSON-ready object."""
    if not 0 < level < 1:
        raise PlanError("--level: give a coverage between 0 and 1, such as 0.95.")
    if covariance == "bootstrap" and not 100 <= bootstrap <= MAX_RESAMPLES:
        raise PlanError(
            f"--bootstrap: bootstrap covariances need 100 to {MAX_RESAMPLES:,} resamples."
        )
    rows, truth = pilot_rows(file, fom=fom)
    try:
        result = mrmc(
            rows, figure=fom, truth=truth, level=level, covariance=covariance,
            resamples=bootstrap, seed=seed,
        )  # fmt: skip
    except DataError as exc:
        raise PlanError(f"{file.name}: {exc}") from None
    if len(result.modalities) < 2:
        raise PlanError(f"{file.name}: an MRMC comparison needs two or more modalities.")
    return result.as_dict()


def mrmc_table(report: dict) -> str:
    """The report as a reader of the published output expects it, for a terminal."""
    modalities, readers = report["modalities"], report["readers"]
    components = report["components"]
    level = f"{report['level']:.0%}"
    lines = [
        f"{len(readers)} readers, {report['n_cases']} cases, {len(modalities)} modalities; "
        f"figure of merit: {report['figure']}.",
        "",
        "Figure of merit per reader:",
        f"  {'reader':<12}" + "".join(f"{m:>12}" for m in modalities),
    ]
    for r, reader in enumerate(readers):
        values = "".join(f"{report['figures'][t][r]:>12.5f}" for t in range(len(modalities)))
        lines.append(f"  {reader:<12}{values}")
    lines += [
        "",
        f"Components ({components['covariance_method']}): Var {components['var']:.6g}, "
        f"Cov1 {components['cov1']:.6g}, Cov2 {components['cov2']:.6g}, "
        f"Cov3 {components['cov3']:.6g}; MS(T) {_g(components['ms_t'])}, "
        f"MS(T x R) {_g(components['ms_tr'])}.",
    ]
    for analysis in report["analyses"]:
        lines += ["", f"{analysis['question'][0].upper()}{analysis['question'][1:]}:"]
        test = analysis["test"]
        if test is None:
            lines.append(f"  not available: {analysis['reason']}")
        else:
            df2 = "" if test["df2"] is None else f", {test['df2']:.2f}"
            lines.append(
                f"  {test['statistic']}({test['df1']}{df2}) = {test['value']:.4f}, "
                f"p = {test['p']:.4f}"
            )
        for d in analysis["differences"]:
            lines.append(
                f"  {d['first']} - {d['second']}: {d['estimate']:.5f}, {level} CI "
                f"{_ci(d['ci'])}, p = {_g(d['p'])}"
            )
        for alone in analysis["modalities"]:
            ci = _ci(alone["ci"])
            lines.append(f"  {alone['modality']} alone: {alone['value']:.5f}, {level} CI {ci}")
    return "\n".join(lines)


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _ci(ci: list | None) -> str:
    return "none" if ci is None else f"{ci[0]:.5f} to {ci[1]:.5f}"


__all__ = ["MRMC_HELP", "add_mrmc_arguments", "mrmc_report", "mrmc_table"]
