"""Static files in production: compressed, with content-hashed names, and our ES modules
rewritten to import each other by those hashed names too. Without that rewrite a browser could,
for a while after a deploy, run a new entry module beside an old cached module it imports."""

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage

# Django's own patterns for `import ... from "./x.js"` and `export ... from`; applied to our
# modules (static/js/) only, since some third-party scripts collected beside them name files
# that are not shipped (Django's switch, support_js_module_import_aggregation, takes every .js).
_MODULE_IMPORTS = ManifestStaticFilesStorage._js_module_import_aggregation_patterns[1]


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    patterns = (*CompressedManifestStaticFilesStorage.patterns, ("js/*.js", _MODULE_IMPORTS))
