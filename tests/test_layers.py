"""The import structure of docs/architecture.md: no module of ours takes part in an import cycle,
imports inside functions included (grimp reads every import statement, wherever it stands), and
the layer contracts in pyproject.toml hold. `make lint` runs import-linter too; this test keeps
the rule in `make test`, and also across the two apps (import-linter compares siblings only)."""

import grimp
import pytest
from importlinter.cli import lint_imports

PACKAGES = ("annotation", "checklists", "evalapp")


def _cycles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def _project_graph():
    # Imports under `if TYPE_CHECKING:` are for annotations only and never run.
    graph = grimp.build_graph(
        *PACKAGES,
        include_external_packages=False,
        exclude_type_checking_imports=True,
        cache_dir=None,
    )
    for module in list(graph.modules):
        if ".migrations" in module:  # migrations name models by app label, never by import
            graph.remove_module(module)
    return graph


def test_no_module_of_ours_is_in_an_import_cycle():
    assert _cycles(_project_graph()) == []


def test_the_cycle_check_sees_imports_inside_functions():
    graph = _project_graph()
    # What a function-level import of the tasks by the job lifecycle would do:
    graph.add_import(importer="annotation.services.task_runs", imported="annotation.tasks")
    (cycle,) = _cycles(graph)
    assert {"annotation.services.task_runs", "annotation.tasks"} <= set(cycle)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_layer_contracts_hold():
    assert lint_imports(no_cache=True) == 0
