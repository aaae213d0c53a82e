from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    """Blinded reader studies: sources, cases, outputs, assignments, ratings and their statistics."""

    name = "annotation"
