"""An assisted-reading study built through the real services, for the reading tests."""

import csv
import io
import json
import zipfile
from pathlib import Path

from annotation import services
from annotation.models import Question, Source, Study

CASES = [
    ("c1", "Sudden pleuritic chest pain after a long flight.", "Pulmonary embolism", ["PE"]),
    ("c2", "Crushing central chest pain, ST elevation in V1-V4.", "Myocardial infarction", ["MI"]),
    ("c3", "Fever, neck stiffness, photophobia.", "Bacterial meningitis", []),
    ("c4", "Polyuria, polydipsia, weight loss in a 12-year-old.", "Type 1 diabetes", ["T1DM"]),
]
# What each source wrote beside each case; "Model X" is the assisting model.
OUTPUTS = {"Model X": "Differential: {answer}; consider also anxiety.", "Model Y": "Unsure."}


def reading_rows() -> bytes:
    rows = []
    for case_id, text, answer, synonyms in CASES:
        for label, template in OUTPUTS.items():
            rows.append(
                {
                    "case_id": case_id,
                    "input": text,
                    "source": label,
                    "output": template.format(answer=answer),
                    "accepted_answers": [{"answer": answer, "synonyms": synonyms}],
                }
            )
    return "\n".join(json.dumps(row) for row in rows).encode()


def reading_study(
    admin,
    readers,
    *,
    named: bool = False,
    seed: int = 7,
    arm_key: str = "llm",
    washout_days: int | None = None,
) -> Study:
    """A study of a ranked differential (k=3), unassisted and beside Model X's output (an
    unnamed arm unless `named`): sequential, or crossover when given a washout."""
    layout = Study.ReadingLayout.SEQUENTIAL if washout_days is None else "crossover"
    study = services.reading_study_create(
        creator=admin,
        title="Differential diagnosis with and without the model",
        layout=layout,
        answer_kind="ranked",
        k=3,
        prompt="Your differential diagnosis, most likely first",
        seed=seed,
        washout_days=washout_days,
    )
    services.study_import_file(study=study, filename="cases.jsonl", content=reading_rows())
    source = Source.objects.get(study=study, label="Model X")
    services.arm_add(study=study, key=arm_key, kind="source", source=source, named=named)
    services.study_add_raters(study=study, users=readers)
    return study


# What each reader answers, (pseudonym, case, phase) -> ranked list; phase 2 starts from the
# locked answer and is changed to this. Exact match leaves six undecided: R1 c3 and c4, R2 c1,
# c2 and c3 unassisted, R2 c3 assisted; R1 c2 unassisted, R1 c4 and R2 c2 assisted match at
# rank 2.
READS = {
    ("R1", "c1", 1): ["Pulmonary embolism"],
    ("R1", "c2", 1): ["Heart attack", "MI"],
    ("R1", "c3", 1): ["Meningococcal meningitis"],
    ("R1", "c4", 1): ["Viral illness"],
    ("R1", "c1", 2): ["Pulmonary embolism"],
    ("R1", "c2", 2): ["MI"],
    ("R1", "c3", 2): ["Bacterial meningitis"],
    ("R1", "c4", 2): ["Juvenile diabetes", "T1DM"],
    ("R2", "c1", 1): ["Blood clot in the lung"],
    ("R2", "c2", 1): ["Angina"],
    ("R2", "c3", 1): ["Migraine"],
    ("R2", "c4", 1): ["Type 1 diabetes"],
    ("R2", "c1", 2): ["PE"],
    ("R2", "c2", 2): ["Angina", "Myocardial infarction"],
    ("R2", "c3", 2): ["Migraine", "Meningitis"],
    ("R2", "c4", 2): ["Type 1 diabetes"],
}


def reading_reads_answered(admin, readers) -> Study:
    """`reading_study` with two readers, opened, every read answered as READS says and
    submitted."""
    study = reading_study(admin, readers)
    services.study_open(study=study)
    question = study.questions.get(kind=Question.Kind.ANSWER)
    pseudonyms = dict(study.memberships.values_list("user_id", "pseudonym"))
    reads = study.assignments.select_related("item__output__case").order_by("rater_id", "position")
    for read in reads:
        key = (pseudonyms[read.rater_id], read.item.output.case.external_id, read.phase)
        services.rating_save(assignment=read, question=question, answer=READS[key])
        services.assignment_submit(assignment=read)
    return study


def bundle_csv(archive: zipfile.ZipFile, name: str) -> list[dict]:
    """A CSV file of a paper bundle, as rows."""
    return list(csv.DictReader(io.StringIO(archive.read(name).decode())))


def csv_file(path: Path) -> list[dict]:
    """A CSV file written to disk (by R or pandas in a test), as rows."""
    with path.open(newline="") as f:
        return list(csv.DictReader(f))
