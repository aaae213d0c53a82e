from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    """Blinded reader studies: sources, cases, outputs, assignments, ratings, statistics."""

    name = "annotation"

    def ready(self) -> None:
        # The tasks register themselves by job kind with services.task_runs, which queues them:
        # imported here so that the web process knows them too (the worker imports them anyway).
        from annotation import tasks  # noqa: F401
