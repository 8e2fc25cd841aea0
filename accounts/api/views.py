"""The API about the signed-in user and their active organization."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

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


# A plain APIView: the user is `request.user`, and RetrieveAPIView's object and serializer
# lookups added 0.02 ms to every call (docs/speed.md, third round). The docstring is the schema's description.
class MeView(APIView):
    """The signed-in user and the token's active organization, each created just in time if not local yet."""

    content_negotiation_class = JSONOnly

    @extend_schema(
        responses={
            200: MeSerializer,
            401: UNAUTHENTICATED,
            403: BANNED,
            503: UNAVAILABLE,
        }
    )
    def get(self, request):
        # None for no, a deleted or an unknown organization: never a refusal of the request.
        organization = active_organization(request)
        active = None if organization is None else (organization, request.auth.organization)
        return Response(MeSerializer(request.user, context={"organization": active}).data)


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
