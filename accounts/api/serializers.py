"""How a user, and the active organization of their token, are shown to API clients."""

from django.utils import timezone
from rest_framework import serializers

from accounts.clerk.claims import ActiveOrganizationClaim
from accounts.models import Organization, OrganizationMembership, User


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        # Never private_metadata: Clerk documents it as backend-only.
        fields = [
            *("id", "clerk_id", "email", "username", "first_name", "last_name", "image_url", "date_joined"),
            *("public_metadata", "unsafe_metadata"),
        ]
        read_only_fields = fields

    def to_representation(self, instance: User) -> dict:
        # The same output as ModelSerializer's, without rebuilding its fields on every request
        # (a third of a known user's /api/me/ time, measured with bench/). Meta still feeds the schema.
        return {
            "id": instance.id,
            "clerk_id": instance.clerk_id,
            "email": instance.email,
            "username": instance.username,
            "first_name": instance.first_name,
            "last_name": instance.last_name,
            "image_url": instance.image_url,
            "date_joined": _datetime_iso(instance.date_joined),
            "public_metadata": instance.public_metadata,
            "unsafe_metadata": instance.unsafe_metadata,
        }


class ActiveOrganizationSerializer(serializers.Serializer):
    """The token's active organization: Clerk id, name and slug from the local row, role and permissions from the token.

    Declares the shape for the schema; MeSerializer writes it.
    """

    clerk_id = serializers.CharField()
    name = serializers.CharField()
    slug = serializers.CharField()
    role = serializers.CharField()
    permissions = serializers.ListField(child=serializers.CharField())


class MeSerializer(UserSerializer):
    """/api/me/: the user and `organization` (null when the token names no live organization).

    The view puts the resolved (organization, claim) pair, or None, in the context as "organization".
    """

    organization = ActiveOrganizationSerializer(allow_null=True, read_only=True)

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "organization"]
        read_only_fields = fields
        ref_name = "User"  # the schema's name for what /api/me/ answers

    def to_representation(self, instance: User) -> dict:
        organization = _organization_data(self.context.get("organization"))
        return super().to_representation(instance) | {"organization": organization}


def _organization_data(active: tuple[Organization, ActiveOrganizationClaim] | None) -> dict | None:
    if active is None:
        return None
    organization, claim = active
    return {
        "clerk_id": organization.clerk_id,
        "name": organization.name,
        "slug": organization.slug,
        "role": claim.role,
        "permissions": list(claim.permissions),
    }


def _datetime_iso(value):
    """What DRF's DateTimeField writes (ISO 8601 in the current time zone, UTC as "Z"), at a fifth of its cost."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class MembershipSerializer(serializers.ModelSerializer):
    """A member of the active organization, as GET /api/orgs/current/members/ lists them."""

    class Meta:
        model = OrganizationMembership
        fields = ["clerk_id", "user_clerk_id", "role"]
        read_only_fields = fields
