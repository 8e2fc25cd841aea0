"""The delete page of a row with thousands of dependents: the dependents deleted in bulk are counted, not listed.

Django's delete page loads and links every row a deletion cascades to: the largest
organization's 7,367 memberships took 0.7 to 1.2 s (docs/admin.md, "The admin at scale").
Rows that one DELETE removes (nothing refers to them, no signal listens: an
organization's memberships) are counted per model instead, as Django's deletion
itself treats them; every other row is listed as Django lists it.
"""

from __future__ import annotations

from django.contrib.admin.utils import NestedObjects, quote
from django.db import router
from django.db.models.deletion import Collector
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import capfirst


class BulkCountedObjects(NestedObjects):
    """The admin's collector, letting rows go in one DELETE (Collector's rule) instead of loading each."""

    def can_fast_delete(self, objs, from_field=None):
        # NestedObjects says never, to list them all; the rows asked for (no from_field) are still listed.
        return from_field is not None and Collector.can_fast_delete(self, objs, from_field)


def deleted_objects_counted(objs, request, admin_site) -> tuple[list, dict, set, list]:
    """What `ModelAdmin.get_deleted_objects` returns (the list, counts per model, permissions missing,
    protected rows), with the rows deleted in bulk as one line per model: "Organization memberships: 7,367 …"."""
    if not objs:
        return [], {}, set(), []
    collector = BulkCountedObjects(using=router.db_for_write(objs[0]._meta.model), origin=objs)
    collector.collect(objs)
    perms_needed: set[str] = set()

    def permitted(model, obj=None) -> bool:
        if admin_site.is_registered(model) and not admin_site.get_model_admin(model).has_delete_permission(
            request, obj
        ):
            perms_needed.add(model._meta.verbose_name)
        return admin_site.is_registered(model)

    def format_callback(obj) -> str:  # as django.contrib.admin.utils.get_deleted_objects writes a row
        opts = obj._meta
        if permitted(type(obj), obj):
            try:
                url = reverse(f"{admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[quote(obj.pk)])
                return format_html('{}: <a href="{}">{}</a>', capfirst(opts.verbose_name), url, obj)
            except NoReverseMatch:
                pass
        return f"{capfirst(opts.verbose_name)}: {obj}"

    to_delete = collector.nested(format_callback)
    model_count = {model._meta.verbose_name_plural: len(rows) for model, rows in collector.model_objs.items()}
    for rows in collector.fast_deletes:
        counted, opts = rows.count(), rows.model._meta
        if counted:
            permitted(rows.model)
            model_count[opts.verbose_name_plural] = model_count.get(opts.verbose_name_plural, 0) + counted
            to_delete.append(f"{capfirst(opts.verbose_name_plural)}: {counted:,} (deleted too, not listed one by one)")
    return to_delete, model_count, perms_needed, [format_callback(obj) for obj in collector.protected]
