"""The API about the signed-in user."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.generics import RetrieveAPIView
from rest_framework.negotiation import BaseContentNegotiation

from .serializers import UserSerializer


class JSONOnly(BaseContentNegotiation):
    """The API speaks JSON only: the first (JSON) renderer, whatever the Accept header says.

    DRF's negotiation parsed Accept on every request to pick the one renderer there is.
    """

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class MeView(RetrieveAPIView):
    """The signed-in user, created just in time if Clerk's webhook has not arrived yet."""

    serializer_class = UserSerializer
    content_negotiation_class = JSONOnly

    @extend_schema(
        responses={
            200: UserSerializer,
            401: OpenApiResponse(description="No, invalid or expired token; user unknown to Clerk or deleted."),
            503: OpenApiResponse(description="The user must be fetched and Clerk cannot be reached: see Retry-After."),
        }
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self):
        return self.request.user
