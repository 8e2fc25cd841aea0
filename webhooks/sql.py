"""Helpers for the ledger's few hand-written statements (the ORM's query building cost more than
the round trips on the delivery path; see bench/README.md)."""

from django.db import connection


def db_datetime(model, field_name: str, value):
    """A datetime as the backend stores it: raw SQL gets no adaptation from the ORM."""
    return model._meta.get_field(field_name).get_db_prep_save(value, connection)
