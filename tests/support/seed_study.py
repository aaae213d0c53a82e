"""Build a rated, open study in whatever database DATABASE_URL names, from a separate process:
for tests whose worker uses a database of its own (a private PostgreSQL cluster to stop)."""

from pathlib import Path

from django.contrib.auth import get_user_model

from annotation import services
from annotation.models import TaskRun

ROWS = (Path(__file__).resolve().parent.parent / "data" / "study.csv").read_bytes()


def rated_study_with_a_waiting_recomputation() -> int:
    """Six items rated by two raters each, and the recomputation their submits queued (not
    sent anywhere). Returns that run's id."""
    users = get_user_model().objects
    admin = users.create_user("seed-admin", password="unused")
    raters = [users.create_user(f"seed-rater{i}", password="unused") for i in range(3)]
    study = services.study_create(
        creator=admin, title="Seeded", raters_per_item=2, question_prompt="Quality?", seed=1234
    )
    services.study_import_file(study=study, filename="study.csv", content=ROWS)
    services.study_add_raters(study=study, users=raters)
    services.study_open(study=study)
    question = study.questions.get()
    for n, assignment in enumerate(study.assignments.order_by("pk")):
        services.rating_save(assignment=assignment, question=question, answer=1 + n % 5)
        services.assignment_submit(assignment=assignment)
    return TaskRun.objects.get(study=study, kind=TaskRun.Kind.COMPUTE_AGREEMENT, status="queued").pk
