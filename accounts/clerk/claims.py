"""The active organization a Clerk session token names, decoded from v1 or v2 claims.

Clerk recommends authorizing from these claims (fresh within a minute) rather
than from a synced table. Version 2 is decoded as `@clerk/backend` does
(packages/shared/src/jwtPayloadParser.ts and authorization.ts, splitByScope):
the role is `org:` + `o.rol`; the organization features are the `fea`
entries whose scope contains `o` (`o:`, `ou:`, `uo:`), in order; `o.fpm`
holds one integer per organization feature, a bitmask whose least
significant bit is the first name in `o.per`; each set bit grants
`org:<feature>:<permission>`. Like Clerk's parser, `fpm` entries beyond the
organization features (real tokens carry masks for user features there) and
bits beyond the `per` list are not read, and an entry that is not a decimal
integer (`-1`, `1.5`, `1invalid`) grants nothing while the rest stands.
The role is `org:`-prefixed once, as Clerk's `has()` compares roles, so a v1
`org_role: "admin"` is `org:admin`.

Stricter than Clerk: a claim of the wrong type, without a usable id or role,
with an empty permission or feature name, or a `fea` entry without a scope
(Clerk's parser throws) makes the organization absent, so it grants nothing.
Never raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Stricter: only something shaped like a Clerk organization id reaches the database or Clerk's API,
# bounded by the column that stores it (64).
ORGANIZATION_ID = re.compile(r"org_[A-Za-z0-9_]{1,60}", re.ASCII)
ORGANIZATION_SCOPES = frozenset({"o", "ou", "uo"})
ORG_PREFIX = "org:"
ORG_PREFIXES = re.compile(r"^(?:org:)*")
DIGITS = re.compile(r"[0-9]+", re.ASCII)  # decimalToBinaryBits: /^\d+$/, ASCII digits only
# Digits converted to an int at once: below any sys.get_int_max_str_digits() (640 at least, when set).
DIGITS_PER_CONVERSION = 600


@dataclass(frozen=True)
class ActiveOrganizationClaim:
    """The token's active organization: Clerk id, slug (None if the token has none), role and permissions."""

    id: str
    slug: str | None
    role: str
    permissions: tuple[str, ...]


class _Malformed(Exception):
    pass


def active_organization_from_claims(claims: Mapping[str, Any]) -> ActiveOrganizationClaim | None:
    """The active organization of verified session claims; None when there is none or the claim is malformed."""
    try:
        if _version(claims) == 2:
            return _from_v2(claims)
        return _from_v1(claims)
    except _Malformed:
        return None


def _version(claims: Mapping[str, Any]) -> int:
    # jwtPayloadParser.ts switches on `claims.v`: 2 is the compact form, anything else version 1.
    return 2 if claims.get("v") == 2 else 1


def _from_v1(claims: Mapping[str, Any]) -> ActiveOrganizationClaim | None:
    """`org_id`, `org_slug`, `org_role` (already `org:`-prefixed) and `org_permissions` (a list of keys)."""
    if claims.get("org_id") is None:
        return None
    permissions = claims.get("org_permissions", [])
    if not isinstance(permissions, list) or not all(isinstance(name, str) and name for name in permissions):
        raise _Malformed
    return ActiveOrganizationClaim(
        id=_organization_id(claims["org_id"]),
        slug=_optional_text(claims.get("org_slug")),
        role=_role(claims.get("org_role")),
        permissions=tuple(permissions),
    )


def _from_v2(claims: Mapping[str, Any]) -> ActiveOrganizationClaim | None:
    """`o: {id, slg, rol, per, fpm}` with the features in the top-level `fea`."""
    organization = claims.get("o")
    if organization is None:
        return None
    if not isinstance(organization, Mapping):
        raise _Malformed
    return ActiveOrganizationClaim(
        id=_organization_id(organization.get("id")),
        slug=_optional_text(organization.get("slg")),
        role=_role(organization.get("rol")),
        permissions=_v2_permissions(organization.get("per"), organization.get("fpm"), claims.get("fea")),
    )


def _v2_permissions(per: Any, fpm: Any, fea: Any) -> tuple[str, ...]:
    """parsePermissions and buildOrgPermissions: each organization feature's `fpm` mask over the names in `per`."""
    per, fpm, fea = _optional_text(per), _optional_text(fpm), _optional_text(fea)
    features = _organization_features(fea)  # read first: Clerk's parser throws on a bad `fea` whatever `per` holds
    if not per or not fpm:  # parsePermissions: no names or no map, no permissions
        return ()
    names = _split(per)
    masks = [_bitmask(entry.strip(), len(names)) for entry in fpm.split(",")]
    # zip, as buildOrgPermissions: a feature without a mask grants nothing, a mask without a feature (the
    # trailing masks of user features in real tokens) is not read.
    return tuple(
        f"org:{feature}:{name}"
        for feature, mask in zip(features, masks, strict=False)
        for bit, name in enumerate(names)
        if mask >> bit & 1
    )


def _organization_features(fea: str | None) -> list[str]:
    """authorization.ts splitByScope: the organization's features, in order (an entry without a scope is refused)."""
    features = []
    for entry in _split(fea) if fea else []:
        scope, colon, feature = entry.partition(":")
        if not colon or (scope in ORGANIZATION_SCOPES and not feature):
            raise _Malformed
        if scope in ORGANIZATION_SCOPES:  # `u:` and unknown scopes are not the organization's
            features.append(feature)
    return features


def _bitmask(entry: str, width: int) -> int:
    """decimalToBinaryBits of one `fpm` entry, cut to its low `width` bits (those that index a name in `per`).

    0, granting nothing, for an entry that is not a decimal integer (`-1`, `1.5`, `1invalid`, empty).
    """
    if not DIGITS.fullmatch(entry):
        return 0
    # 2**width divides 10**width: the low `width` bits are those of the last `width` digits, so an
    # entry of any length is read without converting more than that.
    return _decimal(entry[-width:]) % (1 << width)


def _decimal(digits: str) -> int:
    """int(digits) for any number of digits, converted a slice at a time (Python refuses long strings at once)."""
    value = 0
    for start in range(0, len(digits), DIGITS_PER_CONVERSION):
        chunk = digits[start : start + DIGITS_PER_CONVERSION]
        value = value * 10 ** len(chunk) + int(chunk)
    return value


def _split(text: str) -> list[str]:
    """Comma-separated names, trimmed like Clerk's parser; an empty name is malformed."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise _Malformed
    return names


def _organization_id(value: Any) -> str:
    if not isinstance(value, str) or not ORGANIZATION_ID.fullmatch(value):
        raise _Malformed
    return value


def _role(value: Any) -> str:
    """authorization.ts prefixWithOrg: any run of leading `org:` becomes exactly one."""
    return ORG_PREFIX + ORG_PREFIXES.sub("", _text(value), count=1)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _Malformed
    return value


def _optional_text(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _Malformed
    return value
