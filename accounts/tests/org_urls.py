"""The project's routes plus probe views guarded by the organization permission classes (test_org_claims.py)."""

from django.urls import path
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import HasActiveOrganization, HasOrgPermission, HasOrgRole
from accounts.api.serializers import MembershipSerializer
from accounts.api.tenancy import ActiveOrganizationMixin
from accounts.models import OrganizationMembership
from config.urls import urlpatterns as project_urlpatterns


def probe(permission):
    class Probe(APIView):
        permission_classes = [permission]

        def get(self, request):
            return Response({"allowed": True})

    return Probe.as_view()


class ScopedWithoutOrganizationPermission(ActiveOrganizationMixin, ListAPIView):
    """Replaces the mixin's permission: the mixin's `organization` must still refuse, and scope by default."""

    permission_classes = [IsAuthenticated]
    queryset = OrganizationMembership.objects.all()
    serializer_class = MembershipSerializer


PROBES = {
    "active": HasActiveOrganization,
    "admin": HasOrgRole("org:admin"),
    "dashboard-read": HasOrgPermission("org:dashboard:read"),
    "admin-or-teams-read": HasOrgRole("org:admin") | HasOrgPermission("org:teams:read"),
    "signed-in-not-admin": IsAuthenticated & ~HasOrgRole("org:admin"),
}

urlpatterns = [
    *(path(f"api/probe/{name}/", probe(permission)) for name, permission in PROBES.items()),
    path("api/probe/scoped/", ScopedWithoutOrganizationPermission.as_view()),
    *project_urlpatterns,
]
