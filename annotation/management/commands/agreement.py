import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.core.stats import coefficients as agreement
from annotation.core.stats.data import LEVELS, DataError, category_label
from annotation.core.stats.longfile import read_long_csv
from annotation.core.stats.resampling import DEFAULT_RESAMPLES, Bootstrap

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


class Command(BaseCommand):
    help = (
        "Inter-rater agreement for ratings collected anywhere: a CSV with the header "
        "unit,rater,value (an empty value, NA or '.' is a missing rating). Prints every "
        "coefficient that applies, each with a seeded unit-bootstrap 95% CI."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--level", choices=LEVELS, required=True)
        parser.add_argument(
            "--categories",
            help="Write --categories=-2,-1,0,1,2 when the first value is negative. "
            "The scale's values in order, comma-separated (e.g. 1,2,3,4,5). Weights and "
            "Gwet's chance term count positions in this list, so give unused values too. "
            "Default: the values observed.",
        )
        parser.add_argument("--bootstrap", type=int, default=DEFAULT_RESAMPLES, metavar="N")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--format", choices=["json"], default="json")

    def handle(self, *args, file: Path, level: str, categories, bootstrap, seed, **options):
        if bootstrap < 0:
            raise CommandError("--bootstrap: give 0 (no intervals) or more resamples.")
        if seed < 0:
            raise CommandError("--seed: give a whole number of 0 or more.")
        declared = None
        if categories is not None:
            declared = [value.strip() for value in categories.split(",")]
            if not all(declared):
                raise CommandError(f"--categories: an empty value in {categories!r}.")
        try:
            content = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"{file}: {exc.strerror}.") from None
        try:
            ratings = read_long_csv(file.name, content, level=level, categories=declared)
        except DataError as exc:
            raise CommandError(str(exc)) from None
        if len(ratings.raters) < 2:
            raise CommandError(f"{file.name}: agreement needs two or more raters; found one.")
        results = agreement.all_coefficients(
            ratings, bootstrap=Bootstrap(resamples=bootstrap, seed=seed) if bootstrap else None
        )
        coefficients = {key: results[key].as_dict() for key in REPORTED if key in results}
        if "icc" in results:
            coefficients["icc"] = {form: e.as_dict() for form, e in results["icc"].items()}
        report = {
            "n_units": len(ratings.units),
            "n_raters": len(ratings.raters),
            "n_ratings": ratings.n_ratings,
            "level": level,
            "categories": [category_label(c) for c in ratings.categories],
            "bootstrap": {"resamples": bootstrap, "seed": seed},
            "coefficients": coefficients,
        }
        self.stdout.write(json.dumps(report, indent=2))
