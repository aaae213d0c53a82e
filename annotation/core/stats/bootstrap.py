"""How a bootstrap is asked for, as plain data: resamples, seed, level and kind of interval.
The resampling itself is `resampling`, with numpy; this is apart so that what only names a
bootstrap (the stored statistics' inputs, their settings) loads neither numpy nor scipy."""

from dataclasses import dataclass

DEFAULT_RESAMPLES = 1000
KINDS = {"percentile": "percentile bootstrap over cases", "bca": "BCa bootstrap over cases"}


@dataclass(frozen=True)
class Bootstrap:
    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
    level: float = 0.95
    kind: str = "percentile"  # or "bca"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown bootstrap interval {self.kind!r}: use one of {list(KINDS)}")

    @property
    def interval_method(self) -> str:
        return KINDS[self.kind]

    def describe(self) -> str:
        name = "percentile bootstrap" if self.kind == "percentile" else "BCa bootstrap (Efron 1987)"
        return f"{name} resampling units, {self.resamples} resamples, seed {self.seed}"
