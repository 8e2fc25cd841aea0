"""The API about the signed-in user and their active organization."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.negotiation import BaseContentNegotiation

from accounts.api.organization import active_organization
from accounts.api.serializers import MembershipSerializer, MeSerializer
from accounts.api.tenancy import ActiveOrganizationMixin
from accounts.sync.organizations import organization_current_members

UNAUTHENTICATED = OpenApiResponse(description="No, invalid or expired token; user unknown to Clerk or deleted.")
UNAVAILABLE = OpenApiResponse(description="Clerk must be asked and cannot be reached: see Retry-After.")
BANNED = OpenApiResponse(description='The user is banned in Clerk: {"error": …, "reason": "banned"}.')


class JSONOnly(BaseContentNegotiation):
    """The API speaks JSON only: the first (JSON) renderer, whatever the Accept header says.

    DRF's negotiation parsed Accept on every request to pick the one renderer there is.
    """

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class MeView(RetrieveAPIView):
    """The signed-in user and the token's active organization, each created just in time if not local yet."""

    serializer_class = MeSerializer
    content_negotiation_class = JSONOnly

    @extend_schema(
        responses={
            200: MeSerializer,
            401: UNAUTHENTICATED,
            403: BANNED,
            503: UNAVAILABLE,
        }
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self):
        return self.request.user

    def get_serializer_context(self):
        # None for no, a deleted or an unknown organization: never a refusal of the request.
        organization = active_organization(self.request)
        active = None if organization is None else (organization, self.request.auth.organization)
        return super().get_serializer_context() | {"organization": active}


class CurrentMembersView(ActiveOrganizationMixin, ListAPIView):
    """The active organization's current members (the token's claim proves the caller is one)."""

    serializer_class = MembershipSerializer
    content_negotiation_class = JSONOnly

    @extend_schema(
        responses={
            200: MembershipSerializer(many=True),
            401: UNAUTHENTICATED,
            403: OpenApiResponse(
                description="The token names no active organization, or a deleted one; or the user is banned"
                ' ({"error": …, "reason": "banned"}).'
            ),
            503: UNAVAILABLE,
        }
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def organization_queryset(self, organization):
        return organization_current_members(organization)
