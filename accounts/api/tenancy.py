"""Tenant-scoped API views: every query constrained to the token's active organization, in this one place.

    class ProjectList(ActiveOrganizationMixin, ListAPIView):
        queryset = Project.objects.all()   # Project.organization is a ForeignKey to Organization
        serializer_class = ProjectSerializer

A view built on the mixin never chooses the organization: `get_queryset`
hands it the request's active organization (the live local row the token
names, see accounts/api/organization.py), and by default filters the view's
`queryset` on `organization_field`. Without a live active organization the
permission refuses the request (403, or 401 without a valid token) before
the view runs; `organization` refuses too (403), so a view that replaces
`permission_classes` still never sees rows of no or another organization.
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.exceptions import PermissionDenied

from accounts.api.organization import active_organization
from accounts.api.permissions import HasActiveOrganization
from accounts.models import Organization


class ActiveOrganizationMixin:
    """For GenericAPIView subclasses: `organization` and `get_queryset` scoped to the active organization."""

    permission_classes = [HasActiveOrganization]
    organization_field = "organization"  # the lookup path from the view's model to Organization

    @property
    def organization(self) -> Organization:
        """The request's live active organization; PermissionDenied (403) when there is none."""
        organization = active_organization(self.request)
        if organization is None:
            raise PermissionDenied(HasActiveOrganization.message)
        return organization

    def get_queryset(self) -> QuerySet:
        return self.organization_queryset(self.organization)

    def organization_queryset(self, organization: Organization) -> QuerySet:
        """The view's rows of `organization`; override to build them another way, never for another organization."""
        return super().get_queryset().filter(**{self.organization_field: organization})
