"""Running reconcile_clerk in the tests, and the tables a pass may write, for before/after comparisons."""

from __future__ import annotations

import io

from django.core.management import CommandError, call_command

from accounts.models import Organization, OrganizationMembership, ReconcilePass, User, UserProvisioning


def reconcile(*args: str) -> tuple[str, str]:
    """`reconcile_clerk` with these arguments: (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command("reconcile_clerk", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def reconcile_failing(*args: str) -> str:
    """`reconcile_clerk` that must fail: its one-line error."""
    try:
        reconcile(*args)
    except CommandError as exc:
        return str(exc)
    raise AssertionError("reconcile_clerk completed")


def counts(out: str) -> dict[str, int]:
    """The `reconcile:` line's pairs; it must be the last line."""
    last = out.strip().splitlines()[-1]
    assert last.startswith("reconcile: "), out
    return {key: int(value) for key, value in (pair.split("=") for pair in last.removeprefix("reconcile: ").split())}


def tables() -> dict[str, list[dict]]:
    """Every column of every row a pass may write (the passes' own record apart)."""
    models = (User, UserProvisioning, Organization, OrganizationMembership)
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}


def passes() -> list[ReconcilePass]:
    return list(ReconcilePass.objects.order_by("started_at", "pk"))
