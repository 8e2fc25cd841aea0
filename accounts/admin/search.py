"""The admin's search of a large table whose search fields reach a related one: the related rows are found first.

Used by the memberships' admin (their organization's id and slug) and the welcome emails' (their user's).

Django's admin ORs every search field in one statement, so a field of a related model
(`organization__slug`) makes it a join PostgreSQL can only read whole: every membership
with its organization, 0.4 to 0.6 s for 200,000 memberships (docs/admin.md, "The admin at
scale"). Here each word is looked up in the related table on its own (one statement, a
few of its rows), and the large table is asked for its own fields (their trigram indexes
on PostgreSQL) or those related rows (its foreign key's index). The matches are Django's:
every word in any field, case-insensitively (`icontains`); fields are plain names or
`relation__field`, without Django's `^`, `=` or `@` prefixes.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Q, QuerySet
from django.utils.text import smart_split, unescape_string_literal

# Beyond this many related rows a word names, they are matched by a subquery instead of by their ids.
RELATED_IDS_MOST = 1000


def search_words(search_term: str) -> Iterator[str]:
    """The words of a search, as Django's admin splits them (quoted phrases kept whole)."""
    for word in smart_split(search_term):
        if word.startswith(('"', "'")) and word[0] == word[-1]:
            word = unescape_string_literal(word)
        yield word


def search_related_first(queryset: QuerySet, search_fields: list[str], search_term: str) -> QuerySet:
    """`queryset` narrowed to the rows where each word of `search_term` is in one of `search_fields`."""
    own = [field for field in search_fields if "__" not in field]
    related: dict[str, list[str]] = {}
    for field in search_fields:
        if "__" in field:
            relation, _, name = field.partition("__")
            related.setdefault(relation, []).append(name)
    words = []
    for word in search_words(search_term):
        matches = Q.create([(f"{field}__icontains", word) for field in own], connector=Q.OR)
        for relation, fields in related.items():
            model = queryset.model._meta.get_field(relation).related_model
            named = model._default_manager.filter(
                Q.create([(f"{field}__icontains", word) for field in fields], connector=Q.OR)
            ).values_list("pk", flat=True)
            ids = list(named[: RELATED_IDS_MOST + 1])
            matches |= Q(**{f"{relation}__in": ids if len(ids) <= RELATED_IDS_MOST else named})
        words.append(matches)
    return queryset.filter(*words)
