"""Planning from a pilot: readers and cases for a power, or cases for an interval's width."""

from django import forms

from annotation.forms.help_text import PlainHelpText

# Numbers of readers a plan looks at: each is a scan of numbers of cases, about 50 ms, so a
# list stays quick (under about 2 s) at 30 of them.
PLAN_READERS = (2, 200)


PLAN_READERS_MOST = 30


def readers_list(text: str) -> list[int]:
    """'3-10', '3, 5, 8' or '4-6, 10': the numbers of readers, each 2-200, at most 30."""
    low, high = PLAN_READERS
    found: set[int] = set()
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        first, dash, last = part.partition("-")
        try:
            start, end = int(first), int(last if dash else first)
        except ValueError:
            raise forms.ValidationError(
                f"{part!r} is not a number of readers or a range such as 3-10."
            ) from None
        if start > end or start < low or end > high:
            raise forms.ValidationError(f"Numbers of readers run from {low} to {high}: {part!r}.")
        found.update(range(start, end + 1))
        if len(found) > PLAN_READERS_MOST:
            raise forms.ValidationError(
                f"At most {PLAN_READERS_MOST} numbers of readers at a time, e.g. 3-32 or a list."
            )
    if not found:
        raise forms.ValidationError("Give the numbers of readers, e.g. 3-10 or 4, 6, 8.")
    return sorted(found)


def _between(name: str, low: float, high: float):
    def check(value: float) -> None:
        if not low < value < high:
            raise forms.ValidationError(f"{name} lies strictly between {low:g} and {high:g}.")

    return check


def _positive(name: str, most: float):
    def check(value: float) -> None:
        if not value > 0:
            raise forms.ValidationError(f"{name} must be more than 0.")
        if value > most:
            raise forms.ValidationError(f"{name} must be at most {most:,.15g}.")

    return check


class PilotChoiceForm(PlainHelpText, forms.Form):
    """A form choosing one of the study's pilots, named by its stored result's id."""

    pilot = forms.TypedChoiceField(coerce=int, choices=())

    # Both parts of the card sit on the dashboard: their ids must differ ("plan_power_pilot").
    auto_id_prefix = "plan"

    def __init__(self, *args, pilots: list, **kwargs) -> None:
        super().__init__(*args, auto_id=f"{self.auto_id_prefix}_%s", **kwargs)
        self.pilots = {p.result.pk: p for p in pilots}
        self.fields["pilot"].choices = [(pk, self.pilot_label(p)) for pk, p in self.pilots.items()]

    def pilot_label(self, pilot) -> str:
        raise NotImplementedError

    def clean_pilot(self):
        return self.pilots[self.cleaned_data["pilot"]]


class PowerPlanForm(PilotChoiceForm):
    """Readers and cases for a chosen power to detect a chosen difference between two sources."""

    auto_id_prefix = "plan_power"

    difference = forms.FloatField(
        # Far past any scale: the power's noncentral F cannot be computed out there.
        validators=[_positive("The difference", 1e6)],
        help_text="The smallest difference between the two sources worth detecting, in the "
        "question's units: scale points for a score, a share for yes/no (the pilot's own "
        "difference is in its name above).",
    )
    power = forms.FloatField(initial=0.8, validators=[_between("Power", 0, 1)])
    alpha = forms.FloatField(
        initial=0.05,
        label="Alpha (two-sided)",
        validators=[_between("Alpha", 0, 0.5)],
    )
    readers = forms.CharField(
        initial="3-10",
        label="Numbers of readers",
        max_length=200,
        help_text=f"A range such as 3-10, or a list such as 4, 6, 8; each from "
        f"{PLAN_READERS[0]} to {PLAN_READERS[1]}, at most {PLAN_READERS_MOST} of them.",
    )

    field_order = ["pilot", "difference", "power", "alpha", "readers"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pilot"].label = "Pilot comparison"

    def pilot_label(self, pilot) -> str:
        seen = "" if pilot.observed is None else f", observed difference {pilot.observed:+.3g}"
        seen += f" {pilot.units}" if seen and pilot.units else ""
        return (
            f"“{pilot.question.key}”: {pilot.pair} ({pilot.readers} readers x "
            f"{pilot.pilot.cases} cases{seen})"
        )

    def clean_readers(self) -> list[int]:
        return readers_list(self.cleaned_data["readers"])

    def clean(self) -> dict:
        data = super().clean()
        pilot, difference = data.get("pilot"), data.get("difference")
        largest = pilot.largest_difference if pilot else None
        if difference and largest is not None and difference > largest:
            self.add_error(
                "difference",
                f"A difference in a share or an AUC is at most {largest:g}.",
            )
        return data


class WidthPlanForm(PilotChoiceForm):
    """Cases for Krippendorff's alpha's interval (these raters) of a chosen width."""

    auto_id_prefix = "plan_width"

    width = forms.FloatField(
        validators=[_positive("The width", 2)],  # alpha lies between -1 and 1
        label="Interval width",
        help_text="The whole width of the 95% interval, upper minus lower, e.g. 0.2.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pilot"].label = "Pilot question"

    def pilot_label(self, pilot) -> str:
        low, high = pilot.ci
        return (
            f"“{pilot.question.key}”: alpha {pilot.result.value:.3f} ({low:.3f} to {high:.3f}, "
            f"width {pilot.width:.3f}) on {pilot.cases} cases"
        )
