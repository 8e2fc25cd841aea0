"""The API about the signed-in user."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.generics import RetrieveAPIView

from .serializers import UserSerializer


class MeView(RetrieveAPIView):
    """The signed-in user, created just in time if Clerk's webhook has not arrived yet."""

    serializer_class = UserSerializer

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
