"""How often the judge repeats its own modal answer across samples (Pangakis et al. 2023)."""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from annotation.core.stats.judges.common import Value, normalised_value


@dataclass
class Consistency:
    """Pangakis et al. (2023): per unit, the share of the judge's repeated runs that give the
    modal label (a tied mode gives the same share whichever label is taken)."""

    per_unit: dict[str, float]
    n_skipped: int  # units with fewer than two runs
    method: str = "share of repeated runs equal to the modal label, mean over units"

    @property
    def mean(self) -> float | None:
        return float(np.mean(list(self.per_unit.values()))) if self.per_unit else None

    def distribution(self) -> list[dict]:
        """How many units had each share, lowest share first."""
        counts = Counter(self.per_unit.values())
        return [{"share": share, "n_units": counts[share]} for share in sorted(counts)]

    def as_dict(self) -> dict:
        data = {
            "method": self.method,
            "mean": self.mean,
            "n_units": len(self.per_unit),
            "n_units_skipped": self.n_skipped,
            "distribution": self.distribution(),
        }
        if self.mean is None:
            data["reason"] = "no unit has two or more runs"
        return data


def consistency(samples_by_unit: Mapping[str, Sequence[Value]]) -> Consistency:
    """The judge's self-consistency from unit -> its labels over repeated runs."""
    per_unit: dict[str, float] = {}
    for unit, labels in samples_by_unit.items():
        if len(labels) < 2:
            continue
        keys = [normalised_value(label, numeric=False) for label in labels]
        per_unit[unit] = Counter(keys).most_common(1)[0][1] / len(keys)
    return Consistency(per_unit, len(samples_by_unit) - len(per_unit))
