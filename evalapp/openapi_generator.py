"""drf-spectacular's schema generator for this site: its DEFAULT_GENERATOR_CLASS, and so what
its schema view, its `spectacular` command and its deploy check use. Imported by
drf-spectacular when a schema is made, never by a web process that serves none (issue 22):
everything that needs drf-spectacular's inspection code is here, or applied from here."""

from django.urls import get_resolver
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import SchemaGenerator as SpectacularSchemaGenerator

from evalapp.api import ExpiringTokenAuthentication
from evalapp.openapi import annotations_apply


class SchemaGenerator(SpectacularSchemaGenerator):
    """drf-spectacular's, with every view's `evalapp.openapi.extend_schema` applied first."""

    def get_schema(self, request=None, public=False):
        # Each view notes its annotations as it is imported: the URLs' views first (a process
        # such as `manage.py spectacular` may not have loaded them yet).
        get_resolver(self.urlconf).url_patterns  # noqa: B018
        annotations_apply()
        return super().get_schema(request=request, public=public)


class ExpiringTokenScheme(OpenApiAuthenticationExtension):
    """The token in the schema as HTTP bearer: what client generators send by default. (Here,
    in the generator's module, so that it is registered before any schema is made.)"""

    target_class = ExpiringTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token: `Authorization: Bearer <key>` (or `Token <key>`).",
        }
