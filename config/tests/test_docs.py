"""The README stays short and every relative link in it and in docs/ leads somewhere real."""

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
