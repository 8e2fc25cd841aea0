"""The README stays short, every relative link in it and in docs/ leads somewhere real, and every dotted name exists."""

import importlib
import re

import pytest

from config.tests.processes import ROOT

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchors(path) -> set[str]:
    """GitHub's anchor for each heading: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def relative_links():
    for document in DOCUMENTS:
        for target in LINK.findall(document.read_text()):
            if not re.match(r"^[a-z]+:", target):  # http:, https:, mailto: leave the repository
                yield pytest.param(document, target, id=f"{document.relative_to(ROOT)}->{target}")


def test_the_readme_fits_on_a_screen_or_two():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


@pytest.mark.parametrize(("document", "target"), list(relative_links()))
def test_every_relative_link_resolves(document, target):
    path, _, anchor = target.partition("#")
    linked = (document.parent / path).resolve() if path else document
    assert linked.exists(), f"{target} in {document.name} leads nowhere"
    if anchor:
        assert anchor in anchors(linked), f"{target} in {document.name}: no such heading"


def test_the_walk_finds_the_links():
    assert len(list(relative_links())) >= 10


DOTTED_NAME = re.compile(r"`((?:accounts|webhooks|config)(?:\.[A-Za-z_]\w*)+)")


def dotted_names() -> list[str]:
    return sorted({name for document in DOCUMENTS for name in DOTTED_NAME.findall(document.read_text())})


def names_nothing(name: str) -> bool:
    """Whether `name` is neither a module's attribute path, nor an app's model or permission."""
    from django.apps import apps
    from django.contrib.auth.models import Permission

    label, _, rest = name.partition(".")
    if (
        "." not in rest
        and apps.is_installed(label)
        and (
            rest in {model.__name__ for model in apps.get_app_config(label).get_models()}
            or Permission.objects.filter(content_type__app_label=label, codename=rest).exists()
        )
    ):
        return False
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            found = getattr(found, attribute, None)
        return found is None
    return True


@pytest.mark.django_db
def test_every_dotted_name_in_the_docs_exists():
    """A rename or a move leaves no sentence pointing at a name that is gone."""
    names = dotted_names()
    assert len(names) >= 50
    assert [name for name in names if names_nothing(name)] == []
    assert names_nothing("accounts.welcome.delivery.welcome_email_deliver")  # the check can fail
