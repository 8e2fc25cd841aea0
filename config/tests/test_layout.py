"""The layout docs/architecture.md describes, checked on the source tree.

The import rules between packages are import-linter contracts (pyproject.toml, run by
.ci/run); what they cannot say is here: no import cycle at all among production modules,
what may sit at accounts/'s root, and how long a module may grow.
"""

from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "webhooks", "config")
ACCOUNTS_ROOT = {"__init__.py", "apps.py", "models.py", "signals.py", "db.py"}
MAX_LINES = 250
# config/settings.py is a flat list of every setting, read top to bottom (Django's one place to look);
# parsing and checks live beside it in config/ (errors.py, logs.py, operations.py). It may be longer.
LONGER = {"config/settings.py": 300}


def is_production(module: str) -> bool:
    parts = module.split(".")
    return not {"tests", "migrations"} & set(parts)


def production_graph() -> grimp.ImportGraph:
    graph = grimp.build_graph(*APPS, cache_dir=None)
    for module in list(graph.modules):
        if not is_production(module):
            graph.remove_module(module)
    return graph


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every group of modules that import each other, directly or through others (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        # Recursive: the graph is a few hundred modules deep at most.
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in graph.modules:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1 or graph.direct_import_exists(importer=module, imported=module):
                cycles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycle_among_production_modules():
    graph = production_graph()
    assert {"accounts.sync.users", "accounts.welcome.tasks", "webhooks.services"} <= graph.modules
    assert import_cycles(graph) == []


def test_a_cycle_is_found():
    """The check above can fail: a cycle through a third module is reported, a chain is not."""
    graph = grimp.ImportGraph()
    for importer, imported in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("e", "d")]:
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [["a", "b", "c"]]


def test_accounts_root_holds_the_app_and_its_packages():
    modules = {path.name for path in (ROOT / "accounts").glob("*.py")}
    assert modules <= ACCOUNTS_ROOT, f"move {sorted(modules - ACCOUNTS_ROOT)} into the sub-package of its concern"


@pytest.mark.parametrize("app", APPS)
def test_no_production_module_is_long(app):
    long = {
        str(path.relative_to(ROOT)): lines
        for path in (ROOT / app).rglob("*.py")
        if is_production(".".join(path.relative_to(ROOT).parts))
        and (lines := len(path.read_text().splitlines())) > LONGER.get(str(path.relative_to(ROOT)), MAX_LINES)
    }
    assert long == {}, f"split by concern: modules over {MAX_LINES} lines"
