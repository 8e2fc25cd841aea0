"""OpenAPI description of the Clerk session token authentication (drf-spectacular)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ClerkSessionScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.authentication.ClerkSessionAuthentication"
    name = "clerkSession"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A Clerk session token, as `Authorization: Bearer <token>` or the `__session` cookie.",
        }
