"""requirements.txt is what production needs and requirements.lock what it installs: the app's own modules
need nothing from requirements-dev.txt, and each lock pins, with hashes, what its input file asks for."""

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
    "pip-tools": "piptools",
    "ruff": "ruff",
    "import-linter": "importlinter",
    "grimp": "grimp",
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


def locked_pins(path) -> dict[str, tuple[str, int]]:
    """{name: (version, number of hashes)} of a pip-compile --generate-hashes lock file."""
    pins: dict[str, tuple[str, int]] = {}
    name = None
    for line in path.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.\-]+)==([^ ]+)", line):
            name = match[1].lower()
            pins[name] = (match[2], 0)
        elif name and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
    return pins


def direct_pins(path) -> dict[str, str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return {
        re.split(r"[\[=]", line)[0].lower(): line.split("==")[1] for line in lines if line and not line.startswith("-")
    }


def test_each_lock_pins_what_its_input_asks_for_every_package_hashed():
    runtime, dev = locked_pins(ROOT / "requirements.lock"), locked_pins(ROOT / "requirements-dev.lock")

    assert "standardwebhooks" in runtime  # transitive dependencies are locked too
    for lock, inputs in ((runtime, ("requirements.txt",)), (dev, ("requirements.txt", "requirements-dev.txt"))):
        for input_name in inputs:
            for name, version in direct_pins(ROOT / input_name).items():
                assert lock.get(name, ("missing",))[0] == version, f"{name} in {input_name} vs its lock"
        assert all(hashes for _, hashes in lock.values()), "every locked package has its hashes"
    # Development and CI run the very versions production installs.
    assert {name: dev[name] for name in runtime} == runtime
