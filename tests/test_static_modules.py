"""The browser code's ES modules (static/js, no build step) hold together: every import names a
module and a name it exports (one broken import stops every module of the page, keeping answers
included), the imports run one way (no cycle), and nothing is shared through `window`."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

JS = Path(settings.BASE_DIR) / "static" / "js"
IMPORT = re.compile(r'^import \{([^}]*)\} from "([^"]+)";', re.MULTILINE)
EXPORT = re.compile(r"^export (?:function|var|let|const) (\w+)", re.MULTILINE)
MODULES = sorted(JS.rglob("*.js"))


def _imports(module: Path) -> list[tuple[Path, list[str]]]:
    found = []
    for names, source in IMPORT.findall(module.read_text()):
        target = (module.parent / source).resolve()
        found.append((target, [name.strip() for name in names.split(",") if name.strip()]))
    return found


@pytest.mark.parametrize("module", MODULES, ids=lambda path: str(path.relative_to(JS)))
def test_every_import_names_a_module_that_exports_it(module):
    for target, names in _imports(module):
        assert target.is_file(), f"{module.name} imports {target}, which does not exist"
        exported = set(EXPORT.findall(target.read_text()))
        assert set(names) <= exported, f"{module.name}: {target.name} does not export {names}"


def test_the_imports_have_no_cycle():
    graph = {module.resolve(): [target for target, _ in _imports(module)] for module in MODULES}
    done: set[Path] = set()

    def visit(module: Path, path: tuple[Path, ...]) -> None:
        assert module not in path, "import cycle: " + " -> ".join(p.name for p in (*path, module))
        if module in done:
            return
        for target in graph.get(module, []):
            visit(target, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())


@pytest.mark.parametrize("module", MODULES, ids=lambda path: str(path.relative_to(JS)))
def test_no_module_shares_state_through_window(module):
    assert not re.search(r"\bwindow\.\w+\s*=[^=]", module.read_text())


def test_collected_modules_import_each_other_by_their_hashed_names(tmp_path):
    """In production (DEBUG=0) every file gets a content-hashed name; a module must then import
    the hashed name too, or a browser may pair a new module with an old cached one after a
    deploy."""
    production = {"BACKEND": "evalapp.storage.StaticFilesStorage"}
    with override_settings(
        STATIC_ROOT=tmp_path, STORAGES={**settings.STORAGES, "staticfiles": production}
    ):
        call_command("collectstatic", interactive=False, verbosity=0)
    hashed = sorted((tmp_path / "js").rglob("*.*.js"))
    entry = next(path for path in hashed if re.fullmatch(r"rater\.[0-9a-f]{12}\.js", path.name))
    assert IMPORT.findall(entry.read_text()), "the rater page's entry module imports nothing?"
    for module in hashed:
        for _, source in IMPORT.findall(module.read_text()):
            assert re.search(r"\.[0-9a-f]{12}\.js$", source), f"{module.name} imports {source}"
            assert (module.parent / source).is_file(), f"{module.name} imports {source}: missing"
