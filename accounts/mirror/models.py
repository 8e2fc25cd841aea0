"""What apps need of Clerk's User, Organization and OrganizationMembership, as abstract models.

accounts/models.py mixes them into `User`, `Organization` and `OrganizationMembership`;
they import only Django. Metadata are Clerk's JSON objects, `{}` when absent. Private
metadata are Clerk's backend-only data: the API never shows them (accounts/api/serializers.py).
"""

from django.db import models


class UserClerkFields(models.Model):
    banned = models.BooleanField(default=False, help_text="Banned in Clerk: the user is inactive and refused (403).")
    locked = models.BooleanField(
        default=False, help_text="Locked in Clerk (a temporary lockout after failed sign-ins): shown, refuses nothing."
    )
    external_id = models.CharField(max_length=255, blank=True, help_text="Clerk's external_id (a pre-Clerk account).")
    public_metadata = models.JSONField(default=dict, blank=True)
    private_metadata = models.JSONField(default=dict, blank=True, help_text="Backend-only: never shown by the API.")
    unsafe_metadata = models.JSONField(default=dict, blank=True, help_text="Writable by the user from the frontend.")
    last_sign_in_at = models.DateTimeField(null=True, blank=True, help_text="Clerk's last_sign_in_at.")

    class Meta:
        abstract = True


class OrganizationClerkFields(models.Model):
    public_metadata = models.JSONField(default=dict, blank=True)
    private_metadata = models.JSONField(default=dict, blank=True, help_text="Backend-only: never shown by the API.")
    members_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Clerk's members_count, when an event or answer carried it."
    )

    class Meta:
        abstract = True


class MembershipClerkFields(models.Model):
    public_metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True
