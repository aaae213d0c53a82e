"""`{% module_script "js/rater.js" %}`: an ES module entry point, with a modulepreload link for
every module it imports, directly or not (`{% load modules %}`).

Without the links a browser finds the imports level by level, one round trip each, and a page
whose controls work before its scripts run could take a clinician's first click before the
script that keeps answers has started. With them every module is fetched at once. The graph is
read from the source files once per process, so the links never go stale when modules change;
`static()` gives each its hashed name in production (evalapp.storage rewrites the imports to
match).
"""

import re
from functools import cache
from pathlib import PurePosixPath

from django import template
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.utils.html import format_html, format_html_join

register = template.Library()

# `import ... from "./x.js";` and `export ... from "./x.js";`, relative paths only.
_IMPORT = re.compile(r'^(?:import|export)\b[^"\']*?from\s+["\'](\.{1,2}/[^"\']+)["\']', re.M)


@cache
def module_graph(entry: str) -> tuple[str, ...]:
    """Every module `entry` imports, directly or not, as static paths, in a stable order."""
    seen: dict[str, None] = {}
    pending = [entry]
    while pending:
        path = pending.pop()
        found = finders.find(path)
        if found is None:
            raise template.TemplateSyntaxError(f"{path}: no such static file")
        with open(found, encoding="utf-8") as source:
            imports = _IMPORT.findall(source.read())
        for relative in imports:
            target = str(_normalise(PurePosixPath(path).parent / relative))
            if target not in seen and target != entry:
                seen[target] = None
                pending.append(target)
    return tuple(sorted(seen))


def _normalise(path: PurePosixPath) -> PurePosixPath:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)
    return PurePosixPath(*parts)


@register.simple_tag
def module_script(entry: str) -> str:
    paths = ((static(path),) for path in module_graph(entry))
    preloads = format_html_join("", '<link rel="modulepreload" href="{}">', paths)
    return format_html('{}<script type="module" src="{}"></script>', preloads, static(entry))
