"""The manifests the design engine gave before it was made faster (issue 22), pinned by their
digests: a running study's stored manifest_hash must keep matching what the engine computes
from the same items, raters and seed."""

import pytest

from annotation.core import design


def _items(n_items: int, n_sources: int) -> list[design.DesignItem]:
    sources = tuple(f"s{s}" for s in range(n_sources))
    return [
        design.DesignItem(f"c{case}\x1f" + "\x1f".join(sources), sources if n_sources > 1 else ())
        for case in range(n_items)
    ]


def _with_quality(manifest: design.Manifest, items, raters, seed: int) -> design.Manifest:
    quality = design.QualityControl(
        training=(design.DesignItem("t1", items[0].sources),),
        checks=(
            design.DesignItem("a1", items[0].sources),
            design.DesignItem("a2", items[0].sources),
        ),
        repeats=2,
    )
    placements = design.add_quality_control(
        manifest.placements, quality, seed=seed, raters=[*raters, "R99"]
    )
    return design.Manifest(seed=seed, k=manifest.k, placements=tuple(placements))


CASES = [
    # items, sources, raters, k, digest of the study manifest, digest with quality control
    (60, 1, 7, 3, "3faa0e0760ca8ec37a047b2659126b743f86fea5f0502606300ee2d99b296d3a", None),
    (
        40,
        1,
        5,
        5,
        "ea981e857d4744e7ff461c285f8bb2e24f0bff1e0c325681e42f2f33180cc680",
        "cc0683a9c121eecd3439af811c78e492ac45476c6a95966a3d97854947e5f35a",
    ),
    (25, 2, 4, 2, "843f3202946686565b00370c239de44f61dbead2cfbac42e0783e5dc397279f8", None),
    (
        15,
        4,
        5,
        4,
        "e6130c52f5e368acb47844d91c327229d460076c85f0091054ee598c0d1f04f8",
        "e9a7b4513e308bde1bb3dd0e86ba4ac75bf06bdaa47a4f7f5364087c2a7ed240",
    ),
]


@pytest.mark.parametrize(("n_items", "n_sources", "n_raters", "k", "digest", "with_qc"), CASES)
def test_the_engine_gives_the_manifests_it_gave(n_items, n_sources, n_raters, k, digest, with_qc):
    items = _items(n_items, n_sources)
    raters = [f"R{i}" for i in range(1, n_raters + 1)]
    manifest = design.assign(items=items, raters=raters, k=k, seed=22)
    assert manifest.digest == digest
    if with_qc:
        assert _with_quality(manifest, items, raters, 22).digest == with_qc
