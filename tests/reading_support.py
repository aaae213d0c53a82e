"""An assisted-reading study built through the real services, for the reading tests."""

import json

from annotation import services
from annotation.models import Source, Study

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
