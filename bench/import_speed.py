"""How fast a study's cases and outputs import: 10,000 cases with 40,000 outputs of about 1,500
characters, parsed, checked and written in one transaction.

    make bench-import          # SQLite under var/ (the embedded default)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/evalapp_bench make bench-import

Reference, measured in the same run on the same database: the same rows written with Django's
bulk_create and nothing else (no parsing, no checks), the usual way to write many rows. The
issue's targets: at most 8 s for this file, and twice Label Studio's ~6,000 tasks/s here
(12,000 outputs/s).
"""

import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalapp.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}")
# The bench's file (about 65 MB) is larger than a web upload may be by default.
os.environ.setdefault("IMPORT_MAX_DATA_BYTES", str(200 * 1024**2))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from annotation import services  # noqa: E402
from annotation.models import Case, Output, Source, Study  # noqa: E402
from tests.factories import UserFactory  # noqa: E402

CASES, SOURCES, OUTPUT_CHARS = 10_000, 4, 1_500
TARGET_SECONDS, LABEL_STUDIO_PER_S = 8.0, 6_000


def make_file() -> bytes:
    rng = random.Random(0)
    words = [
        "patient",
        "dose",
        "review",
        "follow",
        "up",
        "symptoms",
        "advise",
        "risk",
        "history",
        "medication",
    ]
    lines = []
    for case in range(CASES):
        question = " ".join(rng.choices(words, k=60))
        for source in range(SOURCES):
            text = " ".join(rng.choices(words, k=OUTPUT_CHARS // 7))[:OUTPUT_CHARS]
            row = {"case_id": f"c{case}", "input": question, "source": f"model-{source}"}
            lines.append(json.dumps({**row, "output": text}))
    return ("\n".join(lines) + "\n").encode()


def fresh_study(admin) -> Study:
    return services.study_create(
        creator=admin, title="bench", raters_per_item=2, question_prompt="q", seed=1
    )


def reference_insert(study: Study, content: bytes) -> float:
    """The same rows written with bulk_create and nothing else: no parsing, no checks."""
    rows = [json.loads(line) for line in content.splitlines()]
    started = time.perf_counter()
    with transaction.atomic():
        cases = {
            r["case_id"]: Case(study=study, external_id=r["case_id"], input_text=r["input"])
            for r in rows
        }
        Case.objects.bulk_create(cases.values(), batch_size=2000)
        sources = {r["source"]: Source(study=study, label=r["source"]) for r in rows}
        Source.objects.bulk_create(sources.values())
        Output.objects.bulk_create(
            (
                Output(case=cases[r["case_id"]], source=sources[r["source"]], text=r["output"])
                for r in rows
            ),
            batch_size=2000,
        )
    return time.perf_counter() - started


def main() -> None:
    call_command("migrate", verbosity=0)
    admin = UserFactory(username=f"bench-{time.time_ns()}")
    content = make_file()
    print(
        f"database: {connection.vendor}; file: {len(content) / 1e6:.0f} MB, "
        f"{CASES:,} cases, {CASES * SOURCES:,} outputs"
    )

    study = fresh_study(admin)
    started = time.perf_counter()
    summary = services.study_import_file(study=study, filename="bench.jsonl", content=content)
    ours = time.perf_counter() - started
    assert summary.outputs_created == CASES * SOURCES, summary

    floor = reference_insert(fresh_study(admin), content)
    rate = CASES * SOURCES / ours
    print(f"evalapp import:          {ours:6.2f} s  ({rate:,.0f} outputs/s)")
    print(f"bulk_create only (ref):  {floor:6.2f} s  -> evalapp takes {ours / floor:.2f}x as long")
    print(
        f"target: <= {TARGET_SECONDS:.0f} s -> {'met' if ours <= TARGET_SECONDS else 'MISSED'}; "
        f"goal {2 * LABEL_STUDIO_PER_S:,} outputs/s (2x Label Studio) -> "
        f"{'met' if rate >= 2 * LABEL_STUDIO_PER_S else 'missed'} "
        f"({rate / LABEL_STUDIO_PER_S:.1f}x)"
    )
    Study.objects.filter(created_by=admin).delete()
    admin.delete()


if __name__ == "__main__":
    main()
