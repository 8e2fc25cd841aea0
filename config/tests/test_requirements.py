"""requirements.txt is what production installs: the app's own modules need nothing from requirements-dev.txt."""

import ast
import re

from config.tests.processes import ROOT

# Importable name of each package requirements-dev.txt adds.
DEV_MODULES = {
    "pytest": "pytest",
    "pytest-django": "pytest_django",
    "factory-boy": "factory",
    "hypothesis": "hypothesis",
    "responses": "responses",
    "selenium": "selenium",
}
APPS = ("config", "accounts", "webhooks")


def requirement_names(path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [re.split(r"[\[=<>~ ]", line)[0].lower() for line in lines if line and not line.startswith("-")]


def production_modules():
    """Every module the running app may import: the apps and manage.py, tests and test helpers left out."""
    yield ROOT / "manage.py"
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "tests" not in path.relative_to(ROOT).parts:
                yield path


def imported_top_level_names(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_dev_requirements_build_on_the_runtime_ones_and_only_add_test_tools():
    first_line = next(
        line for line in (ROOT / "requirements-dev.txt").read_text().splitlines() if line and line[0] != "#"
    )

    assert first_line == "-r requirements.txt"
    assert sorted(requirement_names(ROOT / "requirements-dev.txt")) == sorted(DEV_MODULES)
    assert not set(requirement_names(ROOT / "requirements.txt")) & set(DEV_MODULES)


def test_no_production_module_imports_a_test_tool():
    modules = list(production_modules())
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_level_names(path) & set(DEV_MODULES.values()))
        for path in modules
    }

    assert len(modules) > 30  # the walk really found the apps
    assert {path: names for path, names in offenders.items() if names} == {}
