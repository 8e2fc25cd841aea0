"""The accounts app's hand-written SQL, in one place and one style.

Each statement says why the ORM is not used; `accounts/tests/test_db.py` pins
how many statements each one sends, on PostgreSQL and on SQLite. Tables and
columns come from the models' metadata, quoted by the connection's backend,
and values pass through the fields' own conversions, as the ORM's do.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.db import connections, models, router

from accounts.models import Organization, OrganizationMembership, User
from config.database import prepared_cursor, prepared_fetchone

# The advisory lock's first key: the space of locks this app takes (the second is the hashed Clerk user id).
MEMBER_LINK_LOCK_SPACE = 13_001


def insert_ignoring_conflicts(obj: models.Model) -> bool:
    """INSERT `obj` unless that would violate any unique constraint: one statement, on the write database.

    `INSERT … ON CONFLICT DO NOTHING RETURNING pk` (PostgreSQL, and SQLite
    3.35 or newer), so two transactions racing to insert the same row cannot
    both win and neither raises. Not the ORM: `bulk_create(ignore_conflicts=True)`
    neither returns nor sets the new row's pk, and `get_or_create` takes a
    SELECT, a savepoint, the INSERT and its release: four statements. Returns
    True and sets `obj.pk` when the row was inserted; False when a conflicting
    row exists (or was committed concurrently), in which case nothing was written.
    """
    meta = obj._meta
    connection = connections[router.db_for_write(type(obj))]
    quote = connection.ops.quote_name
    fields = [field for field in meta.concrete_fields if field is not meta.pk]
    values = [field.get_db_prep_save(field.pre_save(obj, add=True), connection) for field in fields]
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return True


def user_by_clerk_id(clerk_id: str, *, lock: bool = False, for_write: bool = False) -> User | None:
    """The user row with this unique `clerk_id`, or None: one statement.

    With `lock` the row is read with `SELECT … FOR UPDATE` (SQLite has no row
    locks: its transactions already begin as writes) from the write database,
    where the caller's transaction will write it. With `for_write` it is read
    from the write database without a lock (a write transaction that must see
    what others committed there); otherwise from the read database. Not the
    ORM: compiling `User.objects.filter(clerk_id=…)` cost more than the
    database round trip on every authenticated request
    (bench/README.md: 0.46 ms against 0.10 ms), so the statement is built once
    per process and database.
    """
    return _row_by_clerk_id(User, clerk_id, lock=lock, for_write=for_write)


def organization_by_clerk_id(clerk_id: str) -> Organization | None:
    """The organization row with this unique `clerk_id`, or None: one statement, from the read database.

    Every request whose token names an active organization reads it, so it is
    built once like `user_by_clerk_id` (the ORM's query cost about 0.75 ms
    against 0.3 ms for the user's).
    """
    return _row_by_clerk_id(Organization, clerk_id)


def user_and_organization_by_clerk_ids(
    user_clerk_id: str, organization_clerk_id: str
) -> tuple[User | None, Organization | None]:
    """The user and the organization a session token names, read together: one statement.

    Every request whose token names an active organization needs both rows:
    the user's, joined to the organization's (None when that one is not
    local). (None, None) when the user is not local. From the read database;
    two statements when the router reads the two models from different ones.
    Not the ORM: nothing relates the two rows (the token names both), so it
    has no join for them.
    """
    alias = router.db_for_read(User)
    if router.db_for_read(Organization) != alias:
        return user_by_clerk_id(user_clerk_id), organization_by_clerk_id(organization_clerk_id)
    connection = connections[alias]
    users, organizations = _columns(User, alias), _columns(Organization, alias)
    row = prepared_fetchone(connection, _user_with_organization_sql(alias), [organization_clerk_id, user_clerk_id])
    if row is None:
        return None, None
    user_values, organization_values = row[: len(users.attnames)], row[len(users.attnames) :]
    organization = None if organization_values[0] is None else organizations.instance(organization_values)
    return users.instance(user_values), organization


def _row_by_clerk_id(model: type[models.Model], clerk_id: str, *, lock: bool = False, for_write: bool = False):
    alias = router.db_for_write(model) if lock or for_write else router.db_for_read(model)
    connection = connections[alias]
    sql = _select_by_clerk_id(model, alias)
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE"  # in the caller's transaction: prepared_fetchone never runs it twice there
    row = prepared_fetchone(connection, sql, [clerk_id])
    return None if row is None else _columns(model, alias).instance(row)


@dataclass(frozen=True)
class _Columns:
    """A model's concrete columns as a SELECT lists them (the primary key first), and the way back to an instance."""

    model: type[models.Model]
    alias: str
    sql: str  # the column list, each qualified by the table
    attnames: list[str]
    converters: list[tuple[int, Any, list]]  # (column index, column expression, the backend's converters)

    def instance(self, row) -> models.Model:
        """The instance the ORM would have read from these column values."""
        connection = connections[self.alias]
        values = list(row)
        for index, expression, converters in self.converters:
            for convert in converters:
                values[index] = convert(values[index], expression, connection)
        return self.model.from_db(self.alias, self.attnames, values)


@functools.cache
def _columns(model: type[models.Model], alias: str) -> _Columns:
    connection = connections[alias]
    quote = connection.ops.quote_name
    meta = model._meta
    fields = meta.concrete_fields  # the primary key first
    table = quote(meta.db_table)
    converters = []
    for index, field in enumerate(fields):
        expression = field.get_col(meta.db_table)
        functions = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
        if functions:
            converters.append((index, expression, functions))
    sql = ", ".join(f"{table}.{quote(field.column)}" for field in fields)
    return _Columns(model, alias, sql, [field.attname for field in fields], converters)


@functools.cache
def _select_by_clerk_id(model: type[models.Model], alias: str) -> str:
    quote = connections[alias].ops.quote_name
    table = quote(model._meta.db_table)
    clerk_id = quote(model._meta.get_field("clerk_id").column)
    return f"SELECT {_columns(model, alias).sql} FROM {table} WHERE {table}.{clerk_id} = %s LIMIT 1"


@functools.cache
def _user_with_organization_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    users, organizations = quote(User._meta.db_table), quote(Organization._meta.db_table)
    user_clerk_id = quote(User._meta.get_field("clerk_id").column)
    organization_clerk_id = quote(Organization._meta.get_field("clerk_id").column)
    return (
        f"SELECT {_columns(User, alias).sql}, {_columns(Organization, alias).sql} FROM {users} "
        f"LEFT JOIN {organizations} ON {organizations}.{organization_clerk_id} = %s "
        f"WHERE {users}.{user_clerk_id} = %s LIMIT 1"
    )


_MEMBER_LINK_LOCK = "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"


def member_link_lock(user_clerk_id: str) -> None:
    """Take the transaction-scoped lock on linking memberships to the user `user_clerk_id`: one statement.

    PostgreSQL's `pg_advisory_xact_lock` on (MEMBER_LINK_LOCK_SPACE, hashtext(id)),
    released at commit or rollback; a hash collision only makes two users' links
    wait for each other. Nothing on SQLite, whose transactions begin as writes
    (BEGIN IMMEDIATE) and so run one at a time. Not the ORM: it has no advisory
    locks, and `select_for_update` cannot lock a row that does not exist yet
    (the point here: the user or the membership is still being created).
    See accounts/sync/links.py for the race it closes.
    """
    connection = connections[router.db_for_write(OrganizationMembership)]
    if connection.vendor != "postgresql":
        return
    with prepared_cursor(connection) as cursor:
        cursor.execute(_MEMBER_LINK_LOCK, [MEMBER_LINK_LOCK_SPACE, user_clerk_id])


def memberships_link(user: User) -> int:
    """Take `user`'s member link lock, then link the memberships waiting for it: one round trip.

    On PostgreSQL the lock and the UPDATE go as one query string of two
    statements (Django's default client-side binding allows it; each statement
    gets its own snapshot under READ COMMITTED, so the UPDATE sees what a
    transaction holding the lock committed meanwhile). Every new user pays for
    this, and as two ORM calls it cost two round trips plus the UPDATE's
    compilation. Returns how many memberships were linked.
    """
    meta = OrganizationMembership._meta
    connection = connections[router.db_for_write(OrganizationMembership)]
    quote = connection.ops.quote_name
    user_column = quote(meta.get_field("user").column)
    update = (
        f"UPDATE {quote(meta.db_table)} SET {user_column} = %s "
        f"WHERE {quote(meta.get_field('user_clerk_id').column)} = %s AND {user_column} IS NULL"
    )
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(update, [user.pk, user.clerk_id])
            return cursor.rowcount
        params = [MEMBER_LINK_LOCK_SPACE, user.clerk_id, user.pk, user.clerk_id]
        cursor.execute(f"{_MEMBER_LINK_LOCK}; {update}", params)
        cursor.nextset()  # the UPDATE's result
        return cursor.rowcount
