"""The OpenAPI schema's annotations and pages, without loading drf-spectacular's inspection code
in every web process (issue 22).

drf-spectacular's inspector (drf_spectacular.openapi, and with it Django's and DRF's test
modules) takes some 5 MB in each gunicorn process, for a schema that is read now and then. Three
things would load it with the URLs:
- its `extend_schema` subclasses the schema class as it decorates a view. `extend_schema` here
  takes the same arguments and notes the decoration; drf-spectacular's own is applied to each
  noted view, in the order they were decorated, before the first schema is made
  (`annotations_apply`). It only sets attributes on the view, its methods or their `kwargs` and
  returns the view itself, so applying it later makes the same schema.
- DRF's routers read every attribute of a viewset, its `schema` too, which makes an instance of
  REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS. That is `AutoSchema` here: a stand-in until
  `annotations_apply` makes it drf-spectacular's AutoSchema (its base class, set in place).
- the schema and documentation pages: `schema_page` imports drf-spectacular's views at their
  first request.
`annotations_apply` is called by evalapp.openapi_generator.SchemaGenerator, the
DEFAULT_GENERATOR_CLASS that drf-spectacular's view, its `spectacular` command and its deploy
check all use. tests/test_web_imports.py checks that the web loads none of it, and
tests/test_api_schema.py that the schema is drf-spectacular's.
"""

import threading
from collections.abc import Callable

from django.views.decorators.csrf import csrf_exempt
from rest_framework.schemas.inspectors import ViewInspector

_noted: list[tuple[object, dict]] = []
_lock = threading.Lock()


def extend_schema(**annotation) -> Callable:
    """drf_spectacular.utils.extend_schema, applied when the schema is first made."""

    def decorator(view):
        with _lock:
            _noted.append((view, annotation))
        return view

    return decorator


class AutoSchema(ViewInspector):
    """REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS: until `annotations_apply`, a bare ViewInspector
    (what DRF's routers make while the URLs load, and drop); from then on drf-spectacular's
    AutoSchema, which it subclasses without adding anything."""


def annotations_apply() -> None:
    """drf-spectacular's AutoSchema under `AutoSchema`, and its extend_schema on every view
    noted so far, in the order noted; each once."""
    from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
    from drf_spectacular.utils import extend_schema as spectacular_extend_schema

    with _lock:
        if AutoSchema.__bases__ != (SpectacularAutoSchema,):
            AutoSchema.__bases__ = (SpectacularAutoSchema,)
        while _noted:
            view, annotation = _noted.pop(0)
            spectacular_extend_schema(**annotation)(view)


def schema_page(name: str, **initkwargs) -> Callable:
    """The view of drf_spectacular.views' class `name`, made at the page's first request."""
    made: list[Callable] = []

    @csrf_exempt  # as DRF's as_view() makes every API view
    def page(request, *args, **kwargs):
        if not made:
            from drf_spectacular import views

            made.append(getattr(views, name).as_view(**initkwargs))
        return made[0](request, *args, **kwargs)

    return page
