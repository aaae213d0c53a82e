from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    """Blinded reader studies: sources, cases, outputs, assignments, ratings, statistics."""

    name = "annotation"
