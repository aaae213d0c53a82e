"""The project package. Celery's application is `evalapp.celery` (what `celery -A evalapp`
finds): imported by the worker and the beat, and by `annotation.tasks`, not by the web, which
queues jobs by name without loading Celery (evalapp.task_queue, issue 22)."""
