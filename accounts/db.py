"""A single-statement, race-safe insert that Django's ORM does not offer."""

from django.db import connections, models, router


def insert_ignoring_conflicts(obj: models.Model) -> bool:
    """INSERT `obj` unless that would violate any unique constraint.

    One statement (`INSERT … ON CONFLICT DO NOTHING RETURNING pk`, PostgreSQL
    and SQLite >= 3.35), so two transactions racing to insert the same row
    cannot both win and neither raises. Returns True and sets `obj.pk` when the
    row was inserted; False when a conflicting row exists (or was committed
    concurrently), in which case nothing was written.
    """
    meta = obj._meta
    connection = connections[router.db_for_write(type(obj))]
    quote = connection.ops.quote_name
    fields = [field for field in meta.concrete_fields if field is not meta.pk]
    values = [field.get_db_prep_save(field.pre_save(obj, add=True), connection) for field in fields]
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return True
